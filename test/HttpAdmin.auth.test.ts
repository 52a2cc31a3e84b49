import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import type * as NodeCrypto from "node:crypto"
import { vi } from "vitest"
import { CircuitBreaker, HttpAdmin } from "../src/index.js"
import { get, serve } from "./httpServer.js"

// The admin token is compared through node:crypto's timingSafeEqual: recorded here, called through.
const compared = vi.hoisted(() => [] as Array<readonly [number, number]>)
vi.mock("node:crypto", async (importOriginal) => {
  const crypto = await importOriginal<typeof NodeCrypto>()
  return {
    ...crypto,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.push([a.byteLength, b.byteLength])
      return crypto.timingSafeEqual(a, b)
    }
  }
})

class Payments extends CircuitBreaker.Service<Payments>()("payments") {}
const token = "s3cret-admin-token-0123456789"

describe("HttpAdmin: the token comparison", () => {
  it.effect("every token, right or wrong, of any length, is compared in constant time as two 32-byte digests", () =>
    Effect.gen(function*() {
      const tokens = [token, token.slice(0, -1) + "X", token.slice(0, 3), token + token, "é".repeat(40)]
      const statuses: Array<number> = []
      for (const given of tokens) {
        statuses.push((yield* get("/admin/resilience/circuits", { authorization: `Bearer ${given}` })).status)
      }
      expect(statuses).toEqual([200, 401, 401, 401, 401])
      // One comparison per request, never of the raw tokens: equal lengths whatever was sent.
      expect(compared).toEqual(tokens.map(() => [32, 32]))
    }).pipe(Effect.provide(
      serve(HttpAdmin.layer({ sources: [Payments] })).pipe(
        Layer.provide(Payments.layer()),
        Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown({ RESILIENCE_ADMIN_TOKEN: token })))
      )
    )))
})
