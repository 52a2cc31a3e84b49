/**
 * `npm start`: the demo service. Reads the command line (`--for`, `--port`,
 * `--help`) and the environment (`DEMO_FOR`, `REDIS_URL`,
 * `RESILIENCE_ADMIN_TOKEN`), runs the demo until its time is up or Ctrl-C,
 * and exits 0 once every server is closed. A bad flag or variable is one
 * line on standard error and exit code 2.
 */
import { NodeRuntime } from "@effect/platform-node"
import type { Runtime } from "effect"
import { Cause, Console, Effect, Exit, Runtime as RuntimeNs } from "effect"
import { randomBytes } from "node:crypto"
import { parseCli, usage, UsageError } from "./cli.js"
import { runDemo } from "./demo.js"
import { defaultScript } from "./faultScript.js"
import type { Store } from "./fleet.js"
import { adminTokenFrom } from "./operator.js"

/** Instances sharing circuits when `REDIS_URL` is set. */
const fleetSize = 3

/** The variable behind a configuration the library refused, by the kind of what it configures. */
const variableOf: Record<string, string> = { HttpAdmin: "RESILIENCE_ADMIN_TOKEN", RedisCircuitStore: "REDIS_URL" }

const program = Effect.gen(function*() {
  const cli = yield* parseCli(process.argv.slice(2), process.env)
  if (cli.help) return yield* Console.log(usage)
  const store: Store = cli.redisUrl === undefined
    ? { _tag: "Memory" }
    : {
      _tag: "Redis",
      url: cli.redisUrl,
      instances: fleetSize,
      prefix: `effect-resilience-demo:${randomBytes(4).toString("hex")}:`
    }
  yield* runDemo({
    script: defaultScript,
    pace: 1,
    forMillis: cli.forMillis,
    port: cli.port,
    store,
    admin: adminTokenFrom(process.env.RESILIENCE_ADMIN_TOKEN, () => randomBytes(24).toString("base64url")),
    ratePerSecond: 40,
    maxInFlight: 32,
    statusEvery: "3 seconds",
    print: Console.log
  })
}).pipe(
  // A configuration the library refused came from a variable: say which, as a usage error.
  Effect.catchTag("PolicyConfigError", (error) => {
    const variable = variableOf[error.kind]
    return variable === undefined
      ? Effect.die(error)
      : Effect.fail(new UsageError({ field: variable, rule: error.message }))
  }),
  Effect.tapError((error) =>
    Console.error(
      error._tag === "ServeError"
        ? `demo: the service cannot listen: ${Cause.pretty(Cause.fail(error.cause))}`
        : `demo: ${error.message}`
    )
  )
)

/** Ctrl-C ends the demo as its time would: exit code 0 once everything is closed. */
const teardown: Runtime.Teardown = (exit, onExit) =>
  Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? onExit(0) : RuntimeNs.defaultTeardown(exit, onExit)

NodeRuntime.runMain(program, { teardown })
