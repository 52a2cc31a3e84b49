import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Scope } from "effect"
import { TestClock } from "effect/testing"
import type { RedisCircuitStore } from "../src/index.js"
import { aclArguments } from "./redis/acl.js"
import type { RedisCluster } from "./redis/cluster.js"
import { clusterAvailable, redisCluster } from "./redis/cluster.js"
import type { Instance } from "./redis/fleet.js"
import {
  awaitConnected,
  awaitState,
  failing,
  fleet,
  instance,
  isRejected,
  joinAll,
  stampede,
  tripFleet
} from "./redis/fleet.js"

// One cluster for the file: starting one takes seconds. Each test has circuits of its own; the
// tests that move a slot or kill a master touch their own circuit's slot only, and run last.
let cluster: RedisCluster
const clusterScope = Effect.runSync(Scope.make())

beforeAll(async () => {
  if (clusterAvailable) cluster = await Effect.runPromise(redisCluster.pipe(Scope.provide(clusterScope)))
}, 60_000)

afterAll(() => Effect.runPromise(Scope.close(clusterScope, Exit.void)), 60_000)

const onCluster = (): RedisCircuitStore.RedisCircuitStoreOptions => ({ cluster: { nodes: cluster.urls } })

const prefix = "effect-resilience:circuit:"
const channel = `${prefix}transitions`

/** The node that serves a circuit's keys, and those keys' slot. */
const home = (name: string) =>
  Effect.promise(async () => {
    const slot = await cluster.slotOf(`${prefix}{${name}}`)
    return { slot, owner: await cluster.ownerOf(slot) }
  })

/** How many subscribers of the transitions channel each master has (classic pub/sub counts per node). */
const subscribersPerNode = () =>
  Effect.promise(() =>
    Promise.all(cluster.masters.map(async (node) => {
      const reply = await cluster.command(node.port, "PUBSUB", "NUMSUB", channel)
      return Number(reply.split("\n")[1])
    }))
  )

/** The script calls (`EVALSHA`) each master ran, and how many it turned away (`MOVED`, say). */
const scriptCallsPerNode = () =>
  Effect.promise(() =>
    Promise.all(cluster.masters.map(async (node) => {
      const stats = await cluster.command(node.port, "INFO", "commandstats")
      const line = stats.split("\n").find((line) => line.startsWith("cmdstat_evalsha:")) ?? ""
      const field = (name: string) => Number(new RegExp(`${name}=(\\d+)`).exec(line)?.[1] ?? 0)
      return { port: node.port, calls: field("calls"), rejected: field("rejected_calls") }
    }))
  )

describe.skipIf(!clusterAvailable)("RedisCircuitStore on a Redis Cluster", () => {
  it.effect(
    "instances connected to the cluster share a circuit: failures on two trip both, on the node that owns its slot",
    () =>
      Effect.gen(function*() {
        const name = "cluster-shared"
        yield* Effect.promise(() =>
          Promise.all(cluster.masters.map((node) => cluster.command(node.port, "CONFIG", "RESETSTAT")))
        )
        const [a, b] = yield* fleet(2, onCluster(), { name, consecutiveFailures: 2, openDuration: "1 minute" })
        // One failure on each instance: neither would trip alone.
        yield* Effect.exit(a!.breaker.execute(failing))
        yield* Effect.exit(b!.breaker.execute(failing))
        expect(yield* a!.breaker.state).toBe("Closed")
        yield* tripFleetAfterFlush([a!, b!])
        for (const i of [a!, b!]) expect(isRejected(yield* Effect.exit(i.breaker.execute(Effect.void)))).toBe(true)
        const { owner } = yield* home(name)
        const state = yield* Effect.promise(() => cluster.command(owner.port, "HGET", `${prefix}{${name}}`, "state"))
        expect(state).toBe("Open")
        // Every script ran on the node that owns the circuit, sent there at once: no MOVED
        // redirection (Redis counts a redirected command as a rejected call).
        const stats = yield* scriptCallsPerNode()
        expect(stats.map(({ rejected }) => rejected)).toEqual([0, 0, 0])
        expect(stats.filter(({ calls }) => calls > 0).map(({ port }) => port)).toEqual([owner.port])
      }).pipe(Effect.scoped),
    30_000
  )

  it.effect(
    "fleetCircuits lists the circuits of every master, each with the fleet's figures",
    () =>
      Effect.gen(function*() {
        // One circuit name per master: the listing must scan each of them.
        const names: Array<string> = []
        const owners = new Set<number>()
        for (let i = 0; owners.size < cluster.masters.length && i < 200; i++) {
          const name = `cluster-listed-${i}`
          const { owner } = yield* home(name)
          if (!owners.has(owner.port)) {
            owners.add(owner.port)
            names.push(name)
          }
        }
        expect(names).toHaveLength(cluster.masters.length)
        const instances = yield* Effect.forEach(names, (name) => instance(onCluster(), { name, minimumCalls: 100 }))
        for (const each of instances) {
          yield* each.breaker.execute(Effect.void)
          yield* Effect.exit(each.breaker.execute(failing))
        }
        yield* TestClock.adjust("100 millis")
        yield* Effect.forEach(instances, (each) => each.store.sync, { discard: true })
        const listing = yield* instances[0]!.store.fleetCircuits()
        const listed = listing.circuits.filter((circuit) => names.includes(circuit.name))
        expect(listed.map((circuit) => circuit.name)).toEqual([...names].sort())
        for (const circuit of listed) expect(circuit.fleet).toMatchObject({ calls: 2, failures: 1 })
        expect(listing.complete).toBe(true)
      }).pipe(Effect.scoped),
    30_000
  )

  it.effect("strict mode: a trip on one instance rejects the very next call on another", () =>
    Effect.gen(function*() {
      const [a, b] = yield* fleet(2, onCluster(), { name: "cluster-strict", consecutiveFailures: 1 }, {
        mode: "strict"
      })
      yield* Effect.exit(a!.breaker.execute(failing))
      expect(isRejected(yield* Effect.exit(b!.breaker.execute(Effect.void)))).toBe(true)
    }).pipe(Effect.scoped), 30_000)

  for (const [mode, permits] of [["shared", 2], ["strict", 3]] as const) {
    it.effect(
      `${mode} mode admits at most halfOpenPermits probes fleet-wide under a stampede, then closes everywhere`,
      () =>
        Effect.gen(function*() {
          const instances = yield* fleet(3, onCluster(), {
            name: `cluster-probes-${mode}`,
            consecutiveFailures: 1,
            openDuration: "10 seconds",
            halfOpenPermits: permits
          }, { mode })
          yield* tripFleet(instances)
          yield* TestClock.adjust("10 seconds")
          const closed = yield* Effect.forEach(instances, (i) => awaitState(i, "Closed"))
          const { counts, decided, fibers, release } = yield* stampede(instances, 30)
          yield* Deferred.await(decided)
          expect(counts).toEqual({ ran: permits, rejected: 90 - permits })
          yield* Deferred.succeed(release, undefined)
          const results = yield* Effect.forEach(fibers, Fiber.join)
          expect(results.filter(Exit.isSuccess)).toHaveLength(permits)
          // The closing's message is a hint; an instance that read the circuit for a message less than a
          // flush interval ago reads it again at its next flush.
          yield* TestClock.adjust("100 millis")
          yield* joinAll(closed)
        }).pipe(Effect.scoped),
      30_000
    )
  }

  it.effect(
    "an ACL user with the documented rule and the cluster's commands shares circuits on the cluster",
    () =>
      Effect.gen(function*() {
        // ACL users are per node: each master gets the rule.
        const [acl, ...args] = aclArguments("cluster-pw", true)
        for (const node of cluster.masters) {
          expect(yield* Effect.promise(() => cluster.command(node.port, acl!, ...args))).toBe("OK")
        }
        const nodes = cluster.masters.map((node) => `redis://circuits:cluster-pw@127.0.0.1:${node.port}`)
        const instances = yield* fleet(2, { cluster: { nodes } }, {
          name: "cluster-acl",
          consecutiveFailures: 1,
          openDuration: "10 seconds"
        })
        yield* tripFleet(instances)
        yield* TestClock.adjust("10 seconds")
        const closed = yield* Effect.forEach(instances, (i) => awaitState(i, "Closed"))
        yield* instances[1]!.breaker.execute(Effect.void)
        yield* TestClock.adjust("100 millis")
        yield* joinAll(closed)
        expect(yield* Effect.forEach(instances, (i) => i.store.connected)).toEqual([true, true])
      }).pipe(Effect.scoped),
    30_000
  )

  it.effect(
    "a transition the script publishes on the circuit's node reaches an instance subscribed on another node",
    () =>
      Effect.gen(function*() {
        const name = "cluster-pubsub"
        const config = { name, consecutiveFailures: 1, openDuration: "1 minute" } as const
        const { owner } = yield* home(name)
        const ownerIndex = cluster.masters.findIndex((node) => node.id === owner.id)
        // The client subscribes on a node of its choosing: make instances until one listens on a
        // node that does not own the circuit (two nodes in three do not).
        let listener: Instance | undefined
        for (let attempt = 0; attempt < 30 && listener === undefined; attempt++) {
          const before = yield* subscribersPerNode()
          const candidate = yield* instance(onCluster(), config)
          const after = yield* subscribersPerNode()
          const node = after.findIndex((count, i) => count > before[i]!)
          if (node !== -1 && node !== ownerIndex) listener = candidate
        }
        expect(listener).toBeDefined()
        const tripper = yield* instance(onCluster(), config)
        const opened = yield* awaitState(listener!, "Open")
        yield* Effect.exit(tripper.breaker.execute(failing))
        // One flush: the script runs on the owner and publishes there; no resync has run yet.
        yield* TestClock.adjust("100 millis")
        yield* Fiber.join(opened)
        expect(yield* listener!.breaker.state).toBe("Open")
      }).pipe(Effect.scoped),
    60_000
  )

  it.effect(
    "a slot that moves to another master mid-run takes the circuit with it: it keeps working for every instance",
    () =>
      Effect.gen(function*() {
        const name = "cluster-moving"
        const [a, b] = yield* fleet(2, onCluster(), {
          name,
          consecutiveFailures: 1,
          openDuration: "10 seconds",
          halfOpenPermits: 1
        })
        yield* tripFleet([a!, b!])
        const { owner, slot } = yield* home(name)
        const target = cluster.masters.find((node) => node.id !== owner.id)!
        yield* Effect.promise(() => cluster.moveSlot(slot, target))
        const key = `${prefix}{${name}}`
        expect(yield* Effect.promise(() => cluster.command(target.port, "HGET", key, "state"))).toBe("Open")
        // Half-open: the probe's lease comes from the new owner (the client follows MOVED), and its
        // success closes the circuit for both instances.
        yield* TestClock.adjust("10 seconds")
        const closed = yield* Effect.forEach([a!, b!], (i) => awaitState(i, "Closed"))
        yield* b!.breaker.execute(Effect.void)
        yield* TestClock.adjust("100 millis")
        yield* joinAll(closed)
        expect(yield* Effect.promise(() => cluster.command(target.port, "HGET", key, "state"))).toBe("Closed")
        // And trips again, from the other instance.
        yield* tripFleet([a!, b!])
        expect(yield* Effect.promise(() => cluster.command(target.port, "HGET", key, "state"))).toBe("Open")
        const newcomer = yield* instance(onCluster(), { name, consecutiveFailures: 1, openDuration: "10 seconds" })
        expect(yield* newcomer.breaker.state).toBe("Open")
      }).pipe(Effect.scoped),
    60_000
  )

  it.effect(
    "the circuit's master dies and its replica takes over: local protection meanwhile, then the fleet agrees again",
    () =>
      Effect.gen(function*() {
        const name = "cluster-failover"
        const config = { name, consecutiveFailures: 3, openDuration: "1 minute" } as const
        const [a, b] = yield* fleet(2, onCluster(), config)
        const { owner } = yield* home(name)
        const replica = yield* Effect.promise(() => cluster.addReplica(owner))
        const lost = yield* Effect.forEach(
          [a!, b!],
          (i) => Effect.forkScoped(awaitConnected(i.store, false), { startImmediately: true })
        )
        // b learns of a's opening once both are back, maybe before this test looks: listen now.
        const opened = yield* awaitState(b!, "Open")
        yield* Effect.promise(() => cluster.failOver(owner, replica))
        // Calls go on meanwhile; a's local circuit trips on its own failures.
        for (let i = 0; i < 3; i++) yield* Effect.exit(a!.breaker.execute(failing))
        yield* TestClock.adjust("100 millis")
        yield* joinAll(lost)
        expect(yield* a!.breaker.state).toBe("Open")
        expect(yield* b!.breaker.state).toBe("Closed")
        // The client finds the new master; every circuit catches up, and a's opening becomes the fleet's.
        yield* awaitConnected(a!.store)
        yield* awaitConnected(b!.store)
        // By pub/sub, or by the next resync if b's subscription was on the node that died.
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(opened)
        expect(
          yield* Effect.promise(() => cluster.command(replica.port, "HGET", `${prefix}{${name}}`, "state"))
        ).toBe("Open")
        const newcomer = yield* instance(onCluster(), config)
        expect(yield* newcomer.breaker.state).toBe("Open")
      }).pipe(Effect.scoped),
    60_000
  )
})

/** Flushes the instances' outcomes, and waits until every one of them is open. */
const tripFleetAfterFlush = (instances: ReadonlyArray<Instance>) =>
  Effect.gen(function*() {
    const opened = yield* Effect.forEach(instances, (i) => awaitState(i, "Open"))
    yield* TestClock.adjust("100 millis")
    yield* joinAll(opened)
  })
