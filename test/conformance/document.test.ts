/**
 * The breaker contract on every store: a circuit exported as a document and
 * restored into a new breaker (another process, a later start) carries its
 * state on, and a document that cannot be trusted is refused, naming each
 * field, without changing the circuit.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import { CircuitDocument, Limits } from "../../src/index.js"
import { attempt, expectRejected, failTimes, ok } from "../helpers.js"
import { expectState } from "./scenario.js"
import { forEachStore, timeout } from "./stores.js"

/** A document as it travels: encoded, written as text, parsed. */
const travelled = (document: CircuitDocument.CircuitDocument): unknown =>
  JSON.parse(JSON.stringify(CircuitDocument.toJson(document)))

forEachStore((driver) => {
  describe("export and restore", () => {
    it.effect(
      "an open circuit restored elsewhere rejects for the rest of its opening, then half-opens",
      () =>
        Effect.gen(function*() {
          const first = yield* driver.store
          const config = { name: "exported", consecutiveFailures: 2, openDuration: "10 seconds" } as const
          const before = yield* first.make(config)
          yield* failTimes(before, 2)
          yield* first.settle
          yield* TestClock.adjust("4 seconds")
          const document = travelled(yield* before.export)
          expect(document).toMatchObject({ version: 1, breaker: "exported", state: "Open", openUntil: 10_000 })
          // A fresh store: for Redis, a fleet that knows nothing of the circuit.
          const second = yield* driver.store
          const after = yield* second.make(config)
          yield* after.restore(document)
          yield* second.settle
          const snapshot = yield* expectState(after, "Open")
          expect([snapshot.openReason, snapshot.consecutiveOpenings]).toEqual(["ConsecutiveFailures", 1])
          expectRejected(yield* attempt(after, ok), "Open", 6000)
          yield* TestClock.adjust("6 seconds")
          yield* expectState(after, "HalfOpen")
          expect(yield* after.execute(ok)).toBe("ok")
          yield* second.settle
          yield* expectState(after, "Closed")
        }),
      timeout
    )

    it.effect(
      "an opening that ended between export and restore restores half-open; a forced opening stays",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const config = { name: "ended", consecutiveFailures: 1, openDuration: "1 second" } as const
          const before = yield* store.make(config)
          yield* failTimes(before, 1)
          yield* store.settle
          const document = travelled(yield* before.export)
          yield* TestClock.adjust("5 seconds")
          const other = yield* driver.store
          const after = yield* other.make(config)
          yield* after.restore(document)
          yield* other.settle
          yield* expectState(after, "HalfOpen")
          const forced = yield* other.make({ name: "forced" })
          const source = yield* store.make({ name: "forced" })
          yield* source.forceOpen
          yield* forced.restore(travelled(yield* source.export))
          yield* other.settle
          yield* expectState(forced, "ForcedOpen")
        }),
      timeout
    )

    it.effect(
      "a document from another breaker, from the future, with negative counts or of another version is refused",
      () =>
        Effect.gen(function*() {
          const store = yield* driver.store
          const breaker = yield* store.make({ name: "guarded", consecutiveFailures: 1, openDuration: "1 minute" })
          yield* TestClock.adjust("10 seconds")
          const good = travelled(yield* breaker.export) as Record<string, unknown>
          const refused = (document: unknown) =>
            Effect.map(Effect.flip(breaker.restore(document)), (error) => {
              expect(error).toMatchObject({ _tag: "CircuitControlError", breaker: "guarded", operation: "restore" })
              return error.issues.map((issue) => issue.field)
            })
          expect(yield* refused({ ...good, breaker: "other" })).toEqual(["breaker"])
          expect(yield* refused({ ...good, version: 2 })).toEqual(["version"])
          expect(yield* refused({ ...good, consecutiveFailures: -1 })).toEqual(["consecutiveFailures"])
          expect(yield* refused({ ...good, consecutiveOpenings: 1.5 })).toEqual(["consecutiveOpenings"])
          expect(yield* refused({ ...good, exportedAt: 10_000 + Limits.maxClockSkewMillis + 1 })).toEqual([
            "exportedAt"
          ])
          expect(
            yield* refused({ ...good, state: "Open", openedAt: 15_000, openReason: "FailureRate", openUntil: 16_000 })
          ).toEqual(["openedAt"])
          expect(yield* refused({ ...good, state: "Open", openedAt: 1000, openReason: "FailureRate", openUntil: null }))
            .toEqual(["openUntil"])
          expect(
            yield* refused({
              ...good,
              state: "Open",
              openedAt: 1000,
              openReason: "FailureRate",
              openUntil: 1000 + 2 ** 31
            })
          ).toEqual(["openUntil"])
          expect(yield* refused({ ...good, window: { _tag: "TimeWindow", buckets: [] } })).toEqual(["window._tag"])
          expect(yield* refused({ ...good, window: { _tag: "CountWindow", outcomes: "sfx" } })).toEqual([
            "window.outcomes"
          ])
          expect((yield* refused({ ...good, state: "Sleeping", surprise: true })).sort()).toEqual(["state", "surprise"])
          expect(yield* refused(null)).toEqual(["(document)"])
          expect(yield* refused("{}")).toEqual(["(document)"])
          yield* store.settle
          const snapshot = yield* expectState(breaker, "Closed")
          expect(Duration.toMillis(snapshot.retryAfter)).toBe(0)
          yield* failTimes(breaker, 1)
          yield* store.settle
          yield* expectState(breaker, "Open")
        }),
      timeout
    )
  })
})
