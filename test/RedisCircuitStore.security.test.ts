import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Logger, References, Scope } from "effect"
import { TestClock } from "effect/testing"
import { readFileSync } from "node:fs"
import { inspect } from "node:util"
import { circuitLua } from "../src/internal/redisLua.js"
import { aclArguments, aclClusterCommands, aclCommands, aclRule } from "./redis/acl.js"
import { awaitConnected, awaitState, failing, fleet, instance, isRejected, send, tripFleet } from "./redis/fleet.js"
import { redisAvailable, redisServerWith } from "./redis/server.js"
import { tlsAvailable, tlsMaterial } from "./redis/tls.js"

/**
 * Every line the program logs, rendered in full (message parts inspected
 * deeply, annotations, the cause with its stack), and everything written to
 * the process's standard output and error meanwhile: where a password must
 * not appear.
 */
const capturingEverything = () => {
  const lines: Array<string> = []
  const logger = Logger.make((options) => {
    lines.push(
      [
        options.logLevel,
        inspect(options.message, { depth: 8 }),
        inspect(options.fiber.getRef(References.CurrentLogAnnotations), { depth: 8 }),
        Cause.pretty(options.cause)
      ].join(" | ")
    )
  })
  const write = <S extends NodeJS.WriteStream>(stream: S) => {
    const original = stream.write.bind(stream)
    stream.write = ((chunk: unknown, ...rest: Array<never>) => {
      lines.push(String(chunk))
      return original(chunk as string, ...rest)
    }) as S["write"]
    return () => {
      stream.write = original as S["write"]
    }
  }
  const restore = [write(process.stdout), write(process.stderr)]
  return {
    lines,
    layer: Logger.layer([logger]),
    stop: Effect.sync(() => restore.forEach((f) => f()))
  }
}

const config = { name: "secure", consecutiveFailures: 1, openDuration: "10 seconds" } as const

describe.skipIf(!redisAvailable)("RedisCircuitStore with a password", () => {
  const password = "s3cret-Pa55word"
  const wrong = "wr0ng-Pa55word"

  it.effect(
    "the right password in the URL shares circuits; a wrong one is an outage that no log, error or snapshot spells out",
    () => {
      const captured = capturingEverything()
      return Effect.gen(function*() {
        const server = yield* redisServerWith({ args: ["--requirepass", password] })
        const url = (secret: string) => `redis://:${secret}@127.0.0.1:${server.port}`
        const instances = yield* fleet(2, url(password), config)
        yield* tripFleet(instances)
        // A wrong password: the store never connects, and says why once; calls run on the local
        // circuit, or are rejected when the store is told to.
        const refused = yield* instance(url(wrong), config, undefined, false)
        const rejecting = yield* instance(url(wrong), config, { onUnavailable: "reject", mode: "strict" }, false)
        expect(yield* refused.store.connected).toBe(false)
        yield* refused.breaker.execute(Effect.void)
        const rejected = yield* Effect.exit(rejecting.breaker.execute(Effect.void))
        expect(isRejected(rejected)).toBe(true)
        const outage = captured.lines.filter((line) => line.includes("unreachable"))
        expect(outage.length).toBeGreaterThanOrEqual(2)
        expect(outage.some((line) => line.includes("WRONGPASS"))).toBe(true)
        expect(outage.some((line) => line.includes(`redis://:***@127.0.0.1:${server.port}`))).toBe(true)
        // An outage of a store that had the right password: killed, then back.
        const [a] = instances
        yield* server.kill
        yield* awaitConnected(a!.store, false)
        yield* server.restart
        yield* awaitConnected(a!.store)
        expect(captured.lines.some((line) => line.includes("reachable again"))).toBe(true)
        const seen = [
          ...captured.lines,
          inspect(rejected, { depth: 8 }),
          JSON.stringify(yield* refused.breaker.snapshot),
          JSON.stringify(yield* rejecting.breaker.snapshot),
          JSON.stringify(yield* a!.breaker.snapshot)
        ]
        for (const text of seen) {
          expect(text).not.toContain(password)
          expect(text).not.toContain(wrong)
        }
      }).pipe(Effect.scoped, Effect.provide(captured.layer), Effect.ensuring(captured.stop))
    },
    30_000
  )
})

describe.skipIf(!redisAvailable)("RedisCircuitStore with an ACL user", () => {
  it("the rule in docs/redis.md is the one tested here, and grants every command the script calls", () => {
    const page = readFileSync(new URL("../docs/redis.md", import.meta.url), "utf8")
    expect(page).toContain(aclRule)
    expect(page).toContain(aclClusterCommands)
    const called = new Set(
      [...circuitLua.matchAll(/redis\.p?call\("([A-Za-z]+)"/g)].map((match) => match[1]!.toLowerCase())
    )
    expect(called.size).toBeGreaterThan(0)
    const granted = new Set(aclCommands.split(" ").filter((rule) => rule.startsWith("+")).map((rule) => rule.slice(1)))
    for (const command of called) expect(granted).toContain(command)
  })

  it.effect(
    "a user that may only touch the store's keys and channel runs shared and strict circuits; under another prefix it is refused",
    () => {
      const captured = capturingEverything()
      return Effect.gen(function*() {
        const server = yield* redisServerWith({})
        const [acl, ...args] = aclArguments("circuits-pw")
        expect(yield* send(server.url, acl!, ...args)).toBe("OK")
        const url = `redis://circuits:circuits-pw@127.0.0.1:${server.port}`
        // Not a key of the store's: refused.
        const elsewhere = yield* Effect.exit(
          send(url, "SET", "other:key", "v")
        )
        expect(Exit.isFailure(elsewhere) && inspect(Cause.squash(elsewhere.cause))).toContain("NOPERM")
        for (const mode of ["shared", "strict"] as const) {
          const name = `acl-${mode}`
          const instances = yield* fleet(2, url, { name, consecutiveFailures: 1, openDuration: "10 seconds" }, { mode })
          yield* tripFleet(instances)
          yield* TestClock.adjust("10 seconds")
          const closed = yield* awaitState(instances[1]!, "Closed")
          yield* instances[0]!.breaker.execute(Effect.void)
          yield* TestClock.adjust("100 millis")
          yield* Fiber.join(closed)
          for (const i of instances) yield* i.store.sync
          expect(yield* Effect.forEach(instances, (i) => i.store.connected)).toEqual([true, true])
          // The fleet's listing (SCAN, HMGET) and its count of instances (the sorted-set commands) are granted.
          const listing = yield* instances[0]!.store.fleetCircuits()
          expect(listing.circuits.map((c) => c.name)).toContain(name)
          expect(listing.instances).toBeGreaterThanOrEqual(2)
        }
        expect(captured.lines.join("\n")).not.toContain("count of instances is unknown")
        // Its keys and channel are the default prefix's: under another prefix, every script is refused.
        const outsider = yield* instance(url, config, { prefix: "other:" }, false)
        yield* Effect.exit(outsider.breaker.execute(failing))
        expect(yield* outsider.breaker.state).toBe("Open")
        expect(yield* outsider.store.connected).toBe(false)
        expect(captured.lines.filter((line) => line.includes("unreachable") && line.includes("NOPERM")).length)
          .toBeGreaterThan(0)
        expect(captured.lines.join("\n")).not.toContain("circuits-pw")
      }).pipe(Effect.scoped, Effect.provide(captured.layer), Effect.ensuring(captured.stop))
    },
    30_000
  )
})

describe.skipIf(!tlsAvailable)("RedisCircuitStore over TLS", () => {
  it.effect(
    "rediss:// with the private CA in tls.ca shares circuits; without it, the server's certificate is refused",
    () =>
      Effect.gen(function*() {
        const tls = yield* tlsMaterial
        const server = yield* redisServerWith({ tls: true, args: tls.serverArgs(false) })
        expect(server.url).toMatch(/^rediss:\/\//)
        const instances = yield* fleet(2, { url: server.url, tls: { ca: tls.ca } }, config)
        yield* tripFleet(instances)
        for (const i of instances) expect(yield* i.breaker.state).toBe("Open")
        // Node's own certificate authorities do not know this one: an outage, calls go on locally.
        const untrusting = yield* instance(server.url, config, undefined, false)
        expect(yield* untrusting.store.connected).toBe(false)
        yield* untrusting.breaker.execute(Effect.void)
        expect(yield* untrusting.breaker.state).toBe("Closed")
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )

  it.effect(
    "a server that asks for client certificates takes the store's tls.cert and tls.key",
    () =>
      Effect.gen(function*() {
        const tls = yield* tlsMaterial
        const server = yield* redisServerWith({ tls: true, args: tls.serverArgs(true) })
        const withCertificate = { url: server.url, tls: { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey } }
        const instances = yield* fleet(2, withCertificate, { ...config, name: "mutual" }, { mode: "strict" })
        yield* Effect.exit(instances[0]!.breaker.execute(failing))
        expect(isRejected(yield* Effect.exit(instances[1]!.breaker.execute(Effect.void)))).toBe(true)
        // Without a certificate the server ends every handshake: the store never connects, and its
        // scope still closes (node-redis's own close waits for handshake replies that never come).
        const scope = yield* Scope.make()
        const anonymous = yield* instance({ url: server.url, tls: { ca: tls.ca } }, config, undefined, false).pipe(
          Scope.provide(scope)
        )
        expect(yield* anonymous.store.connected).toBe(false)
        yield* Scope.close(scope, Exit.void)
      }).pipe(Effect.scoped, Effect.provide(Logger.layer([]))),
    30_000
  )
})
