/**
 * The Redis store's commands and their watchdog: every command runs in a
 * fiber of its own, and its caller waits for it at most the command timeout,
 * in real time. The timeout bounds a network wait (a Redis that hangs, a
 * network that drops packets), which no test clock moves, and the client's
 * own timeout only covers commands not yet sent.
 *
 * @internal
 */
import type { Fiber } from "effect"
import { Effect } from "effect"
import type * as Redis from "effect/persistence/Redis"
import { notConnected, timedOut } from "./redisErrors.js"
import type { ScriptCall } from "./redisScript.js"
import { circuitScript } from "./redisScript.js"

/** A command a caller waits for, until it answers or its deadline passes. */
class InFlight {
  settled = false
  constructor(
    readonly deadline: number,
    readonly resume: (effect: Effect.Effect<unknown, Redis.RedisError>) => void
  ) {}

  /** Settles the wait; false when it was settled already (answered, timed out, or left). */
  settle(): boolean {
    if (this.settled) return false
    this.settled = true
    return true
  }
}

/**
 * Runs the store's commands on the current connection, each bounded by the
 * command timeout.
 *
 * @internal
 */
export class RedisCommands {
  private redis: Redis.Redis["Service"] | undefined = undefined
  private evalScript: ((call: ScriptCall) => Effect.Effect<unknown, Redis.RedisError>) | undefined = undefined

  /** When a command last got an answer (`performance.now()`). */
  private answeredAt = -Infinity

  constructor(
    readonly timeoutMillis: number,
    private readonly forkRoot: <A, E>(effect: Effect.Effect<A, E>) => Fiber.Fiber<A, E>,
    /** A command timed out and nothing answered since it was sent: the connection is silent. */
    private readonly onSilence: () => void
  ) {}

  /** Whether a connection is set: commands fail at once without one. */
  get connected(): boolean {
    return this.redis !== undefined
  }

  /** Sends the commands that follow on `redis`. */
  use(redis: Redis.Redis["Service"]): void {
    this.redis = redis
    this.evalScript = redis.eval(circuitScript)
  }

  /** Commands that follow fail at once (the store is closing). */
  drop(): void {
    this.redis = undefined
    this.evalScript = undefined
  }

  /** Runs one script operation; a failure means Redis is unreachable. */
  run(call: ScriptCall): Effect.Effect<unknown, Redis.RedisError> {
    return this.runHeld(call, undefined)
  }

  /**
   * Runs a script operation; an operation the caller stopped waiting for
   * still finishes, and `abandoned` gets its answer, to give back what it
   * took (a probe lease).
   */
  runHeld(
    call: ScriptCall,
    abandoned: ((raw: unknown) => Effect.Effect<void>) | undefined
  ): Effect.Effect<unknown, Redis.RedisError> {
    const evalScript = this.evalScript
    return evalScript === undefined ? Effect.fail(notConnected) : this.timed(evalScript(call), abandoned)
  }

  /** A PING: whether the connection answers at all. */
  get ping(): Effect.Effect<void, Redis.RedisError> {
    return Effect.suspend(() => {
      const redis = this.redis
      return redis === undefined ? Effect.fail(notConnected) : Effect.asVoid(this.timed(redis.send("PING")))
    })
  }

  /** Runs a Redis command in a fiber of its own, and waits for it at most the command timeout. */
  private timed<A>(
    effect: Effect.Effect<A, Redis.RedisError>,
    abandoned?: (answer: A) => Effect.Effect<void>
  ): Effect.Effect<A, Redis.RedisError> {
    return Effect.callback<A, Redis.RedisError>((resume) => {
      const command = new InFlight(performance.now() + this.timeoutMillis, resume as InFlight["resume"])
      this.forkRoot(effect).addObserver((exit) => {
        if (exit._tag === "Success") this.answeredAt = performance.now()
        if (command.settle()) {
          this.inFlight.delete(command)
          resume(exit)
        } else if (abandoned !== undefined && exit._tag === "Success") {
          this.forkRoot(Effect.ignore(abandoned(exit.value)))
        }
      })
      if (!command.settled) this.watch(command)
      // A caller that leaves stops waiting; the command itself runs to its end.
      return Effect.sync(() => {
        if (command.settle()) this.inFlight.delete(command)
      })
    })
  }

  /** Commands waited for, oldest first: they all have the same timeout, so deadlines only grow. */
  private readonly inFlight = new Set<InFlight>()
  /** One timer, set for the oldest deadline: a caller waits no longer than its own deadline. */
  private watchdog: ReturnType<typeof setTimeout> | undefined = undefined

  private watch(command: InFlight): void {
    this.inFlight.add(command)
    if (this.watchdog === undefined) this.arm(command.deadline)
  }

  private arm(deadline: number): void {
    // A timer may fire a millisecond early by the wall clock: it is set again for what is left.
    this.watchdog = setTimeout(() => this.expire(), Math.max(1, deadline - performance.now()))
    // The watchdog never keeps a process alive by itself.
    this.watchdog.unref?.()
  }

  /** Fails every wait whose deadline passed, and sets the timer for the next one. */
  private expire(): void {
    this.watchdog = undefined
    const now = performance.now()
    let silent = false
    for (const waiting of this.inFlight) {
      if (waiting.deadline > now) {
        this.arm(waiting.deadline)
        break
      }
      this.inFlight.delete(waiting)
      // Sent at its deadline minus the timeout: a connection that answered nothing since is silent.
      if (this.answeredAt < waiting.deadline - this.timeoutMillis) silent = true
      if (waiting.settle()) waiting.resume(Effect.fail(timedOut(this.timeoutMillis)))
    }
    if (silent) this.onSilence()
  }
}
