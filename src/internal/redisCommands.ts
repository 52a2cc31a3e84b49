/**
 * The Redis store's commands and their watchdog: every command is sent on
 * the connection's client at once, runs to its end whatever its caller does,
 * and its caller waits for it at most the command timeout, in real time. The
 * timeout bounds a network wait (a Redis that hangs, a network that drops
 * packets), which no test clock moves.
 *
 * Commands go straight to the client (`RedisConnection.send`), not through
 * the `Redis` service's `eval`: strict mode sends a command per call, and a
 * fiber and a script cache lookup per command cost more than the command's
 * own work in the client. The script is called by its hash, and loaded when
 * Redis lacks it (a restart, a replica promoted), as `Redis.eval` does.
 *
 * @internal
 */
import type { Fiber } from "effect"
import { Effect, Exit } from "effect"
import * as Redis from "effect/persistence/Redis"
import type { RedisConnection } from "./redisClient.js"
import { notConnected, timedOut } from "./redisErrors.js"
import { circuitLua } from "./redisLua.js"
import type { ScriptCall } from "./redisScript.js"
import { circuitSha, scriptArgs } from "./redisScript.js"

/** What a command's caller hears: its reply, or why none came. @internal */
export type CommandExit = Exit.Exit<unknown, Redis.RedisError>

/** A command a caller waits for, until it answers or its deadline passes. */
class InFlight {
  settled = false
  /** The caller left, and what the command took is to be given back once it answers. */
  left = false
  constructor(
    readonly deadline: number,
    readonly resume: (exit: CommandExit) => void
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
  private send: RedisConnection["send"] | undefined = undefined
  private nodes: RedisConnection["nodes"] | undefined = undefined

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
    return this.send !== undefined
  }

  /** Sends the commands that follow on `connection`. */
  use(connection: RedisConnection): void {
    this.send = connection.send
    this.nodes = connection.nodes
  }

  /** Commands that follow fail at once (the store is closing). */
  drop(): void {
    this.send = undefined
    this.nodes = undefined
  }

  /** The nodes that hold keys, now (the server; a cluster's masters): none without a connection. */
  keyNodes(): ReadonlyArray<RedisConnection["send"]> {
    return this.nodes?.() ?? []
  }

  /**
   * Sends one command that is not the script, on `node` (one of `keyNodes`)
   * or routed by the client, and waits for it at most the command timeout.
   */
  command(args: ReadonlyArray<string>, node?: RedisConnection["send"]): Effect.Effect<unknown, Redis.RedisError> {
    return Effect.callback<unknown, Redis.RedisError>((resume) => {
      const send = node ?? this.send
      if (send === undefined || this.send === undefined) return resume(Effect.fail(notConnected))
      const waiting = this.timed(() => send(args), (exit) => resume(exit), undefined)
      return Effect.sync(() => this.stopWaiting(waiting))
    })
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
    return Effect.callback<unknown, Redis.RedisError>((resume) => {
      const waiting = this.sendScript(call, resume, abandoned)
      // A caller that leaves stops waiting; the command itself runs to its end. What it may take (a
      // probe lease) is given back when it answers, and the store's close waits for that.
      return Effect.sync(() => {
        if (waiting.settled) return
        if (abandoned === undefined) this.stopWaiting(waiting)
        else waiting.left = true
      })
    })
  }

  /**
   * Sends a script operation now, from outside any fiber: `onExit` hears its
   * reply, or its failure (at the latest at the command timeout). An answer
   * that comes after the timeout goes to `abandoned`.
   */
  sendScript(
    call: ScriptCall,
    onExit: (exit: CommandExit) => void,
    abandoned: ((raw: unknown) => Effect.Effect<void>) | undefined
  ): InFlight {
    const send = this.send
    if (send === undefined) {
      const failed = new InFlight(0, onExit)
      failed.settled = true
      onExit(Exit.fail(notConnected))
      return failed
    }
    const args = scriptArgs(call)
    return this.timed(() => evalScript(send, args), onExit, abandoned)
  }

  /** A PING: whether the connection answers at all. */
  get ping(): Effect.Effect<void, Redis.RedisError> {
    return Effect.callback<void, Redis.RedisError>((resume) => {
      const send = this.send
      if (send === undefined) return resume(Effect.fail(notConnected))
      const waiting = this.timed(() => send(["PING"]), (exit) => resume(Exit.asVoid(exit)), undefined)
      return Effect.sync(() => this.stopWaiting(waiting))
    })
  }

  /**
   * Resolves once no command is in flight, and every answer that came has
   * been handed on: what an answer starts (a fiber the store waits for, a
   * lease given back) has started by then.
   */
  get idle(): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (this.inFlight.size === 0) return resume(Effect.void)
      const waiter = () => resume(Effect.void)
      this.onIdle.push(waiter)
      return Effect.sync(() => {
        const index = this.onIdle.indexOf(waiter)
        if (index >= 0) this.onIdle.splice(index, 1)
      })
    })
  }

  private onIdle: Array<() => void> = []

  /** Sends a command at once, and hands `onExit` its reply, or its failure at the latest at the command timeout. */
  private timed(
    command: () => Promise<unknown>,
    onExit: (exit: CommandExit) => void,
    abandoned: ((answer: unknown) => Effect.Effect<void>) | undefined
  ): InFlight {
    const waiting = new InFlight(performance.now() + this.timeoutMillis, onExit)
    let reply: Promise<unknown>
    try {
      reply = command()
    } catch (cause) {
      reply = Promise.reject(cause)
    }
    reply.then(
      (answer) => {
        this.answeredAt = performance.now()
        if (!waiting.settle()) {
          // Answered after its deadline: what it took goes back.
          if (abandoned !== undefined) this.forkRoot(Effect.ignore(abandoned(answer)))
        } else if (waiting.left) {
          this.forkRoot(Effect.ignore(abandoned!(answer))).addObserver(() => this.release(waiting))
        } else {
          // Handed on before the command leaves the set: the store's close then waits for what it starts.
          onExit(Exit.succeed(answer))
          this.release(waiting)
        }
      },
      (cause: unknown) => {
        if (!waiting.settle()) return
        if (!waiting.left) onExit(Exit.fail(new Redis.RedisError({ cause })))
        this.release(waiting)
      }
    )
    if (!waiting.settled) this.watch(waiting)
    return waiting
  }

  /** Stops waiting for a command; false when nobody waited any more (answered, timed out, or left). */
  private stopWaiting(waiting: InFlight): boolean {
    if (!waiting.settle()) return false
    this.release(waiting)
    return true
  }

  /** The command is no longer in flight: once none is, `idle` resolves. */
  private release(waiting: InFlight): void {
    if (this.inFlight.delete(waiting) && this.inFlight.size === 0 && this.onIdle.length > 0) {
      for (const resume of this.onIdle.splice(0)) resume()
    }
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
      // Sent at its deadline minus the timeout: a connection that answered nothing since is silent.
      if (this.answeredAt < waiting.deadline - this.timeoutMillis) silent = true
      if (waiting.settle()) {
        if (!waiting.left) waiting.resume(Exit.fail(timedOut(this.timeoutMillis)))
        this.release(waiting)
      }
    }
    if (silent) this.onSilence()
  }
}

/** Runs the circuit script by its hash; when Redis lacks it, loads it and runs it again. */
const evalScript = (send: RedisConnection["send"], args: ReadonlyArray<string>): Promise<unknown> =>
  send(["EVALSHA", circuitSha, "3", ...args]).catch((error: unknown) => {
    if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) throw error
    return send(["SCRIPT", "LOAD", circuitLua]).then(() => send(["EVALSHA", circuitSha, "3", ...args]))
  })
