import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { existsSync } from "node:fs"
import { clusterAvailable, redisCluster } from "./cluster.js"

describe.skipIf(!clusterAvailable)("the test Redis Cluster", () => {
  it.live(
    "starts three masters that cover every slot, moves a slot, promotes a replica, and leaves nothing behind",
    () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        // Closed at the end, to look at what is left; and if a step fails, closed all the same.
        yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
        const cluster = yield* redisCluster.pipe(Scope.provide(scope))
        const [first, second] = cluster.masters
        const info = yield* Effect.promise(() => cluster.command(first!.port, "CLUSTER", "INFO"))
        expect(info).toContain("cluster_state:ok")
        expect(info).toContain("cluster_slots_assigned:16384")
        expect(info).toContain("cluster_known_nodes:3")
        // A key written through its owner moves with its slot.
        const slot = yield* Effect.promise(() => cluster.slotOf("{harness}"))
        const owner = yield* Effect.promise(() => cluster.ownerOf(slot))
        yield* Effect.promise(() => cluster.command(owner.port, "SET", "{harness}", "v"))
        const target = owner.id === first!.id ? second! : first!
        yield* Effect.promise(() => cluster.moveSlot(slot, target))
        expect((yield* Effect.promise(() => cluster.ownerOf(slot))).id).toBe(target.id)
        expect(yield* Effect.promise(() => cluster.command(target.port, "GET", "{harness}"))).toBe("v")
        expect(yield* Effect.promise(() => cluster.command(owner.port, "GET", "{harness}"))).toMatch(/^MOVED /)
        // A replica takes over when its master dies, with the data.
        const replica = yield* Effect.promise(() => cluster.addReplica(target))
        yield* Effect.promise(() => cluster.failOver(target, replica))
        expect((yield* Effect.promise(() => cluster.ownerOf(slot, owner.port))).id).toBe(replica.id)
        expect(yield* Effect.promise(() => cluster.command(replica.port, "GET", "{harness}"))).toBe("v")
        yield* Scope.close(scope, Exit.void)
        const gone = yield* Effect.exit(Effect.promise(() => cluster.command(first!.port, "PING")))
        expect(Exit.isFailure(gone)).toBe(true)
        expect(existsSync(cluster.dir)).toBe(false)
      }).pipe(Effect.scoped),
    60_000
  )
})
