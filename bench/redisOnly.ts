/**
 * The Redis cases alone (`npx tsx bench/redisOnly.ts`): a quick look at the
 * store's throughput while working on it. `npm run bench` runs them with
 * everything else and checks the targets.
 */
import { Effect, Scope } from "effect"
import { measure } from "./harness.js"
import { redisBench } from "./redis.js"

const scope = Effect.runSync(Scope.make())
const redis = await redisBench(scope, { inFiber: 100_000, roundTrip: 2_000, concurrency: 64 })
if (redis === undefined) {
  console.log("redis-server not found")
} else {
  const measurements = await measure(redis.cases, { rounds: 5, warmup: 1 })
  for (const m of measurements.values()) {
    console.log(`${m.name}: ${Math.round(1e9 / m.medianNs).toLocaleString("en")} calls/s`)
  }
}
await Effect.runPromise(Scope.close(scope, { _tag: "Success", value: undefined } as never))
process.exit(0)
