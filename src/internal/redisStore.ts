/**
 * The Redis circuit store: connection, flushing, resynchronisation and
 * outages. Each breaker's link to its shared circuit is an `Attachment`
 * (`internal/redisAttachment.ts`).
 *
 * The store never makes a call wait for Redis in shared mode's Closed state:
 * outcomes are counted in the attachment and flushed by one store-wide loop.
 * Redis answers with the fleet's state, and every transition is published,
 * so each instance moves its local circuit (which keeps admitting calls on
 * its own) to the fleet's state. When Redis cannot be reached, the local
 * circuit decides alone (or rejects, by option) until Redis returns, when the
 * store flushes what it kept and catches up.
 *
 * @internal
 */
import type { Clock } from "effect"
import type { Fiber } from "effect"
import { Cause, Deferred, Duration, Effect, Exit, Queue, Schema, Scope, SubscriptionRef } from "effect"
import type * as Redis from "effect/persistence/Redis"
import { storeTypeId } from "../CircuitStore.js"
import type { TypeId } from "../CircuitStore.js"
import type { PolicyConfigError } from "../PolicyConfigError.js"
import type { CircuitBreakerImpl } from "./breaker.js"
import { Attachment } from "./redisAttachment.js"
import * as RedisClient from "./redisClient.js"
import type { RedisConnectionSettings } from "./redisConnectionOptions.js"
import { describe, notConnected, timedOut } from "./redisErrors.js"
import type { Reply, ScriptCall } from "./redisScript.js"
import { circuitScript, decodeReply, Message } from "./redisScript.js"
import type { StoreImpl } from "./store.js"

/** Validated store options. @internal */
export interface RedisStoreSettings {
  readonly connection: RedisConnectionSettings
  readonly prefix: string
  readonly mode: "shared" | "strict"
  readonly flushMillis: number
  readonly resyncMillis: number
  readonly idleMillis: number
  readonly leaseMillis: number
  readonly onUnavailable: "allow" | "reject"
  readonly commandTimeoutMillis: number
}

const decodeMessage = Schema.decodeUnknownExit(Schema.fromJsonString(Message))

/**
 * How many script calls the store has in flight at once: enough to pipeline,
 * few enough that a burst of thousands of circuits cannot queue in Redis past
 * the command timeout.
 */
const concurrency = 64

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

/** Outages closer together than this are logged as one. */
const outageLogInterval = 60_000

/** @internal */
export class RedisStore implements StoreImpl {
  readonly [storeTypeId]: TypeId = storeTypeId
  readonly kind = "redis" as const
  readonly strict: boolean
  readonly channel: string
  /** Names this store in the messages it publishes. */
  readonly origin = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`
  /** Whether Redis answered the last command and the connection has not dropped since. */
  up = false
  redis: Redis.Redis["Service"] | undefined = undefined
  /** Set when the store's scope closes: nothing it started may move a breaker afterwards. */
  private closed = false

  get isClosed(): boolean {
    return this.closed
  }
  private evalScript: ((call: ScriptCall) => Effect.Effect<unknown, Redis.RedisError>) | undefined = undefined
  readonly attachments = new Map<string, Set<Attachment>>()
  readonly dirty = new Set<Attachment>()
  /** Whether this outage was logged. */
  private outageLogged = false
  private lastOutageLoggedAt = -Infinity
  private started = false

  constructor(
    readonly settings: RedisStoreSettings,
    readonly status: SubscriptionRef.SubscriptionRef<boolean>,
    readonly clock: Clock.Clock,
    private readonly forkRoot: <A, E>(effect: Effect.Effect<A, E>) => Fiber.Fiber<A, E>
  ) {
    this.strict = settings.mode === "strict"
    this.channel = `${settings.prefix}transitions`
  }

  attach(breaker: CircuitBreakerImpl, scope: Scope.Scope): Effect.Effect<void> {
    return Effect.suspend(() => {
      const attachment = new Attachment(this, breaker)
      let same = this.attachments.get(breaker.name)
      if (same === undefined) {
        same = new Set()
        this.attachments.set(breaker.name, same)
      }
      same.add(attachment)
      const detachObserver = breaker.circuit.addObserver(attachment)
      breaker.remote = attachment
      breaker.circuit.localTrips = !this.up
      const detach = Effect.suspend(() => {
        // Outcomes counted but not flushed yet are sent before the breaker goes: nothing is lost.
        const last = this.up ? attachment.flush(this.clock.currentTimeMillisUnsafe()) : Effect.void
        return Effect.ensuring(
          last,
          Effect.sync(() => {
            detachObserver()
            breaker.remote = undefined
            same.delete(attachment)
            if (same.size === 0) this.attachments.delete(breaker.name)
            this.dirty.delete(attachment)
          })
        )
      })
      const join = this.up
        ? attachment.sync(this.clock.currentTimeMillisUnsafe())
        : attachment.goLocal()
      return Effect.andThen(Scope.addFinalizer(scope, detach), join)
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
    const evalScript = this.evalScript
    return evalScript === undefined ? Effect.fail(notConnected) : this.timed(evalScript(call), abandoned)
  }

  /**
   * Runs a Redis command in a fiber of its own, and waits for it at most the
   * command timeout, in real time: it bounds a network wait (a Redis that
   * hangs, a network that drops packets), which no test clock moves, and the
   * client's own timeout only covers commands not yet sent.
   */
  private timed<A>(
    effect: Effect.Effect<A, Redis.RedisError>,
    abandoned?: (answer: A) => Effect.Effect<void>
  ): Effect.Effect<A, Redis.RedisError> {
    return Effect.callback<A, Redis.RedisError>((resume) => {
      const command = new InFlight(Date.now() + this.settings.commandTimeoutMillis, resume as InFlight["resume"])
      this.forkRoot(effect).addObserver((exit) => {
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
  private watchdog: ReturnType<typeof setInterval> | undefined = undefined

  private watch(command: InFlight): void {
    this.inFlight.add(command)
    if (this.watchdog !== undefined) return
    const every = Math.max(1, Math.floor(this.settings.commandTimeoutMillis / 4))
    this.watchdog = setInterval(() => {
      const now = Date.now()
      for (const waiting of this.inFlight) {
        if (waiting.deadline > now) break
        this.inFlight.delete(waiting)
        if (waiting.settle()) waiting.resume(Effect.fail(timedOut(this.settings.commandTimeoutMillis)))
      }
      if (this.inFlight.size === 0) {
        clearInterval(this.watchdog)
        this.watchdog = undefined
      }
    }, every)
    // The watchdog never keeps a process alive by itself.
    this.watchdog.unref?.()
  }

  /**
   * While the store counts Redis as unreachable but the connection stands
   * (a command failed without the socket dropping), a PING tells when to
   * catch up again.
   */
  get recover(): Effect.Effect<void> {
    return Effect.suspend(() => {
      const redis = this.redis
      if (this.up || redis === undefined) return Effect.void
      // The store is up again only once its scripts run: a PING alone says little.
      return this.timed(redis.send("PING")).pipe(
        Effect.andThen(this.regained),
        Effect.catch(() => Effect.void)
      )
    })
  }

  /**
   * Counts outages: a reply to an operation sent before the latest outage
   * began is not applied (it would undo what the outage did to the breakers).
   */
  epoch = 0
  /** Whether a catch-up after an outage is running. */
  private rejoining = false

  /** Redis became unreachable: local circuits decide until it returns. Logged once per outage. */
  lost(cause: unknown): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.closed) return Effect.void
      const wasUp = this.up
      this.up = false
      this.epoch++
      const effects: Array<Effect.Effect<void>> = []
      const now = this.clock.currentTimeMillisUnsafe()
      // A Redis that answers and then fails again (say, one refusing writes) is one outage in the
      // logs, not one per attempt: a new warning needs a minute since the last.
      if (!this.outageLogged && now - this.lastOutageLoggedAt >= outageLogInterval) {
        this.outageLogged = true
        this.lastOutageLoggedAt = now
        effects.push(
          Effect.logWarning(
            `Redis circuit store unreachable (${describe(cause)}): ` +
              (this.settings.onUnavailable === "allow"
                ? "each breaker decides with its local state until Redis returns"
                : "calls are rejected until Redis returns")
          ).pipe(Effect.annotateLogs({ redis_url: this.settings.connection.description }))
        )
      }
      if (wasUp || this.rejoining) {
        // The breakers first: whoever watches the status sees them already deciding locally. A
        // catch-up that failed half-way may have moved some of them: they go back to local too.
        for (const attachment of this.allAttachments()) effects.push(attachment.goLocal())
      }
      if (wasUp) effects.push(SubscriptionRef.set(this.status, false))
      return Effect.all(effects, { discard: true })
    })
  }

  /**
   * Redis answers again (or for the first time): each circuit catches up
   * with the fleet, and only when every one did is the store up again (and
   * the outage over, as far as the logs go). A catch-up that fails leaves the
   * store down, without a new log line.
   */
  get regained(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.up || this.rejoining || this.closed) return Effect.void
      this.rejoining = true
      const epoch = this.epoch
      const now = this.clock.currentTimeMillisUnsafe()
      const attachments = [...this.allAttachments()]
      const done: Effect.Effect<void> = Effect.suspend(() => {
        if (this.epoch !== epoch) return Effect.void
        // Breakers made while this catch-up ran catch up too, before the store counts as back.
        const late = [...this.allAttachments()].filter((attachment) => !attachments.includes(attachment))
        if (late.length > 0) {
          attachments.push(...late)
          return Effect.andThen(
            Effect.forEach(late, (attachment) => attachment.rejoin(now), { concurrency, discard: true }),
            done
          )
        }
        this.up = true
        for (const attachment of this.allAttachments()) attachment.breaker.circuit.localTrips = false
        const missed = attachments.filter((attachment) => attachment.missedNews)
        for (const attachment of missed) attachment.missedNews = false
        // The subscription reconnects on its own, maybe after the commands: what was announced
        // before it was back is read by the next resync, for every circuit, used or not.
        for (const attachment of attachments) attachment.markDue()
        const wasDown = this.outageLogged
        this.outageLogged = false
        const log = wasDown
          ? Effect.logInfo(
            `Redis circuit store reachable again: ${attachments.length} circuit(s) resynchronised`
          ).pipe(Effect.annotateLogs({ redis_url: this.settings.connection.description }))
          : Effect.void
        const reread = Effect.forEach(missed, (attachment) => attachment.sync(now), { concurrency, discard: true })
        return Effect.andThen(Effect.andThen(reread, log), SubscriptionRef.set(this.status, true))
      })
      return Effect.forEach(attachments, (attachment) => attachment.rejoin(now), {
        concurrency,
        discard: true
      }).pipe(
        Effect.andThen(done),
        Effect.ensuring(Effect.sync(() => {
          this.rejoining = false
        }))
      )
    })
  }

  /** Sends every counted batch. */
  get flushAll(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (!this.up || this.dirty.size === 0) return Effect.void
      const now = this.clock.currentTimeMillisUnsafe()
      const batch = [...this.dirty]
      this.dirty.clear()
      return Effect.forEach(batch, (attachment) => attachment.flush(now), { concurrency, discard: true })
    })
  }

  /** Catches up with the fleet for every circuit that was used or is not closed (lost messages). */
  resync(all: boolean): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (!this.up) return Effect.void
      const now = this.clock.currentTimeMillisUnsafe()
      const due = [...this.allAttachments()].filter((attachment) => all || attachment.due())
      return Effect.forEach(due, (attachment) => attachment.sync(now), {
        concurrency,
        discard: true
      })
    })
  }

  /** A message on the transitions channel. */
  receive(raw: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      const decoded = decodeMessage(raw)
      if (Exit.isFailure(decoded)) {
        return Effect.logWarning(
          `Redis circuit store ignored a message on ${this.channel} that is not a transition: ${raw.slice(0, 200)}`
        )
      }
      const message = decoded.value
      const attachments = this.attachments.get(message.name)
      if (attachments === undefined) return Effect.void
      return Effect.forEach(attachments, (attachment) => attachment.hear(message), { discard: true })
    })
  }

  report(raw: unknown, context: string): Effect.Effect<Reply | undefined> {
    const decoded = decodeReply(raw)
    if (Exit.isFailure(decoded)) {
      return Effect.as(
        Effect.logWarning(`Redis circuit store could not read the reply to ${context}: ${Cause.pretty(decoded.cause)}`),
        undefined
      )
    }
    const reply = decoded.value
    if (reply[0] === "") return Effect.succeed(reply)
    return Effect.as(
      Effect.logWarning(
        `Redis circuit store found data it did not write (${reply[0]}): treated as absent, replaced by a fresh circuit`
      ),
      reply
    )
  }

  *allAttachments(): Iterable<Attachment> {
    for (const same of this.attachments.values()) yield* same
  }

  /** Starts connecting, the loops and the subscription, in `scope`. */
  start(scope: Scope.Scope): Effect.Effect<void, PolicyConfigError> {
    return Effect.gen({ self: this }, function*() {
      if (this.started) return
      this.started = true
      const connectClient = yield* RedisClient.load(this.settings.connection, this.settings.commandTimeoutMillis)
      const firstAttempt = yield* Deferred.make<void>()
      const runFork = this.forkRoot
      const connectionScope = yield* Scope.fork(scope)
      // Runs before the connection closes: breakers outliving the store decide locally.
      yield* Scope.addFinalizer(scope, this.close)
      const connect = Effect.gen({ self: this }, function*() {
        const connection = yield* connectClient({
          onLost: (cause) => runFork(Effect.andThen(this.lost(cause), Deferred.done(firstAttempt, Exit.void)))
        }).pipe(Scope.provide(connectionScope))
        const redis = connection.redis
        this.redis = redis
        this.evalScript = redis.eval(circuitScript)
        connection.onReady(() => runFork(Effect.forkIn(this.regained, scope)))
        const messages = yield* redis.subscribe(this.channel).pipe(Scope.provide(connectionScope))
        yield* Effect.forkIn(this.listen(messages), scope)
        yield* this.regained
        yield* Deferred.done(firstAttempt, Exit.void)
      })
      const failed = (cause: Cause.Cause<unknown>) =>
        Effect.andThen(this.lost(Cause.squash(cause)), Deferred.done(firstAttempt, Exit.void))
      yield* Effect.forkIn(Effect.catchCause(connect, failed), scope)
      yield* Effect.forkIn(this.every(this.settings.flushMillis, this.flushAll), scope)
      yield* Effect.forkIn(
        this.every(this.settings.resyncMillis, Effect.suspend(() => this.up ? this.resync(false) : this.recover)),
        scope
      )
      // The layer is ready once the first connection attempt succeeded or failed: never blocked on Redis.
      yield* Deferred.await(firstAttempt)
    })
  }

  /** The store is closing: breakers that outlive it go on with their local circuits. */
  private get close(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.closed = true
      this.up = false
      this.epoch++
      this.redis = undefined
      this.evalScript = undefined
      this.outageLogged = true
      return Effect.andThen(
        Effect.forEach(this.allAttachments(), (attachment) => attachment.leave, { discard: true }),
        SubscriptionRef.set(this.status, false)
      )
    })
  }

  private listen(messages: Queue.Dequeue<Redis.RedisMessage, Redis.RedisError>): Effect.Effect<void> {
    return Effect.forever(
      Effect.flatMap(Queue.take(messages), (message) => this.receive(message.message))
    ).pipe(Effect.catchCause((cause) => this.lost(Cause.squash(cause))))
  }

  /** Runs `effect` every `millis` on the store's clock; a defect is logged and the loop goes on. */
  private every(millis: number, effect: Effect.Effect<void>): Effect.Effect<void> {
    const guarded = Effect.catchCause(
      effect,
      (cause) =>
        Cause.hasInterrupts(cause)
          ? Effect.failCause(cause)
          : Effect.logError("Redis circuit store: a periodic flush or resync failed", Cause.pretty(cause))
    )
    return Effect.forever(Effect.andThen(this.clock.sleep(Duration.millis(millis)), guarded))
  }
}
