/**
 * The Redis circuit store: connection, flushing, resynchronisation and the
 * link (`Attachment`) between each breaker and its shared circuit.
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
import type * as NodeRedisModule from "@effect/platform-node/NodeRedis"
import type { Clock } from "effect"
import type { Fiber } from "effect"
import {
  Cause,
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Layer,
  Queue,
  References,
  Schema,
  Scope,
  SubscriptionRef
} from "effect"
import * as Redis from "effect/persistence/Redis"
import type { ResolvedConfig } from "../CircuitBreakerConfig.js"
import type { TransitionReason } from "../CircuitBreakerEvent.js"
import type { State } from "../CircuitState.js"
import { storeTypeId } from "../CircuitStore.js"
import type { TypeId } from "../CircuitStore.js"
import type { Outcome } from "../Classifier.js"
import { ConfigIssue } from "../ConfigIssue.js"
import { PolicyConfigError } from "../PolicyConfigError.js"
import type { CircuitBreakerImpl } from "./breaker.js"
import type { Admission, CircuitObserver, Rejection } from "./circuit.js"
import type { Reply, ScriptCall } from "./redisScript.js"
import { circuitScript, Message, Reply as ReplySchema } from "./redisScript.js"
import type { RemoteCircuit, RemoteGrant, StoreImpl } from "./store.js"

/** Validated store options. @internal */
export interface RedisStoreSettings {
  readonly url: string
  readonly prefix: string
  readonly mode: "shared" | "strict"
  readonly flushMillis: number
  readonly resyncMillis: number
  readonly idleMillis: number
  readonly leaseMillis: number
  readonly onUnavailable: "allow" | "reject"
  readonly commandTimeoutMillis: number
}

const decodeReply = Schema.decodeUnknownExit(ReplySchema)

/** The failure of a command while the store has no connection. */
const notConnected = new Redis.RedisError({ cause: new Error("not connected") })
const decodeMessage = Schema.decodeUnknownExit(Schema.fromJsonString(Message))

/** The first line of an error, for a log: Redis errors carry their cause. */
const describe = (error: unknown): string => {
  const cause = error instanceof Redis.RedisError ? error.cause : error
  const message = cause instanceof Error ? cause.message : String(cause)
  if (message !== "" && message !== "[object Object]") return message
  return cause instanceof Error ? cause.name || cause.constructor.name : typeof cause
}

/**
 * Whether a failed command surely did not run: it was never sent (no
 * connection), or Redis refused it before any write (out of memory). After a
 * timeout or a dropped connection it may have run.
 */
const notRun = (error: Redis.RedisError): boolean => {
  const cause = error.cause
  if (!(cause instanceof Error)) return false
  return cause === notConnected.cause || cause.name === "ClientOfflineError" || cause.name === "ClientClosedError" ||
    cause.constructor.name === "ClientOfflineError" || cause.constructor.name === "ClientClosedError" ||
    cause.message.startsWith("OOM")
}

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

const timedOut = (millis: number) => new Redis.RedisError({ cause: new Error(`no answer within ${millis} ms`) })

/** Outages closer together than this are logged as one. */
const outageLogInterval = 60_000

const reconnectDelay = (retries: number): number =>
  Math.min(50 * 2 ** Math.min(retries, 10), 2000) + Math.floor(Math.random() * 100)

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
          ).pipe(Effect.annotateLogs({ redis_url: redactedUrl(this.settings.url) }))
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
          ).pipe(Effect.annotateLogs({ redis_url: redactedUrl(this.settings.url) }))
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
      const NodeRedis = yield* loadNodeRedis
      let commandClient: NodeRedisModule.NodeRedis["Service"]["client"] | undefined
      const firstAttempt = yield* Deferred.make<void>()
      const runFork = this.forkRoot
      const options = {
        url: this.settings.url,
        // Commands fail at once while the connection is down, instead of queueing until it returns,
        // and one that waits to be sent longer than the command timeout fails: either way, an outage.
        disableOfflineQueue: true,
        commandOptions: { timeout: this.settings.commandTimeoutMillis },
        // Detects a connection that died silently, so that the client reconnects.
        pingInterval: 5_000,
        socket: {
          reconnectStrategy: (retries: number, cause: Error) => {
            // The subscriber's connection reconnects with the same strategy: while the command
            // connection stands, its trouble is not an outage (a resync covers the lost messages).
            if (commandClient === undefined || !commandClient.isReady) {
              runFork(Effect.andThen(this.lost(cause), Deferred.done(firstAttempt, Exit.void)))
            }
            return reconnectDelay(retries)
          }
        }
      }
      const connectionScope = yield* Scope.fork(scope)
      // Runs before the connection closes: breakers outliving the store decide locally.
      yield* Scope.addFinalizer(scope, this.close)
      const connect = Effect.gen({ self: this }, function*() {
        // NodeRedis logs every reconnection attempt; the store logs once per outage instead.
        const context = yield* Layer.buildWithScope(NodeRedis.layer(options), connectionScope).pipe(
          Effect.provideService(References.MinimumLogLevel, "Error")
        )
        const redis = Context.get(context, Redis.Redis)
        this.redis = redis
        this.evalScript = redis.eval(circuitScript)
        commandClient = Context.get(context, NodeRedis.NodeRedis).client
        commandClient.on("ready", () => runFork(Effect.forkIn(this.regained, scope)))
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

/**
 * The Redis client is loaded when a store starts, so that programs that keep
 * their circuits in memory need neither `@effect/platform-node` nor `redis`.
 */
const loadNodeRedis: Effect.Effect<typeof NodeRedisModule, PolicyConfigError> = Effect.tryPromise({
  try: () => import("@effect/platform-node/NodeRedis"),
  catch: (cause) =>
    new PolicyConfigError({
      kind: "RedisCircuitStore",
      policy: "redis",
      issues: [
        new ConfigIssue({
          field: "(dependencies)",
          rule: `needs the packages @effect/platform-node and redis: npm install @effect/platform-node redis (${
            cause instanceof Error ? cause.message : String(cause)
          })`
        })
      ]
    })
})

/** The URL without its password, for logs. @internal */
export const redactedUrl = (url: string): string => url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@")

/** What an instance knows of its circuit, to seed a fleet circuit with after an outage. */
interface LocalState {
  readonly state: State
  /** When an opening ends (epoch millis); 0 for other states. */
  readonly until: number
  readonly openedAt: number
}

/**
 * One breaker's link to its shared circuit: it counts the breaker's outcomes
 * for the next flush, answers the breaker's remote admissions, and moves the
 * breaker's circuit to the fleet's state.
 *
 * @internal
 */
export class Attachment implements CircuitObserver, RemoteCircuit {
  readonly needsTime = false
  readonly keys: readonly [string, string, string]
  /** The fleet generation this instance last saw. */
  gen = 0
  /** The fleet's consecutive openings, as last seen. */
  openings = 0
  private calls = 0
  private failures = 0
  private slow = 0
  private trailing = 0
  private sawSuccess = false
  private batchGen = 0
  /** When the first outcome of the current batch was counted. */
  private batchStartedAt = 0
  /** Shared mode: the fleet had no probe permit left at the last answer; cleared by any newer news. */
  private probesExhausted = false
  private openMillisOpenings = -1
  private openMillisCached = 0
  private pendingControl: "ForcedOpen" | "Disabled" | "Reset" | undefined = undefined
  private used = false
  /** A transition was announced while the store was not up: re-read once it is. */
  missedNews = false
  /** The state before the store forced the circuit open for an outage (`onUnavailable: "reject"`). */
  private beforeOutage: LocalState | undefined = undefined
  private readonly config: ResolvedConfig
  /** The trip rules and the window, as the script reads them: the same for every flush. */
  private readonly rules: ReadonlyArray<string | number>
  private readonly maxWaitMillis: number

  constructor(readonly store: RedisStore, readonly breaker: CircuitBreakerImpl) {
    const base = `${store.settings.prefix}{${breaker.name}}`
    this.keys = [base, `${base}:w`, `${base}:p`]
    const config = breaker.config
    this.config = config
    const window = config.window
    this.rules = [
      config.consecutiveFailures ?? 0,
      config.failureCount ?? 0,
      config.failureRate ?? -1,
      config.slowCallRate ?? -1,
      config.minimumCalls,
      ...(window._tag === "CountWindow"
        ? ["c", window.size, 0]
        : ["t", window.buckets, Math.max(1, Math.floor(Duration.toMillis(window.duration) / window.buckets))])
    ]
    this.maxWaitMillis = config.halfOpenMaxWait === undefined ? 0 : Duration.toMillis(config.halfOpenMaxWait)
  }

  get routesCalls(): boolean {
    return this.store.strict && this.store.up
  }

  get grantsProbes(): boolean {
    return this.store.up
  }

  onTransition(): void {}

  onReject(): void {
    this.used = true
  }

  onCall(state: Admission["state"], outcome: Outcome, slow: boolean, _d: number, counted: boolean): void {
    this.used = true
    if (!counted || state === "HalfOpen" || this.routesCalls) return
    if (this.calls === 0) {
      this.batchGen = this.gen
      this.batchStartedAt = this.store.clock.currentTimeMillisUnsafe()
      this.store.dirty.add(this)
    }
    this.calls++
    if (outcome === "failure") {
      this.failures++
      this.trailing++
    } else {
      this.sawSuccess = true
      this.trailing = 0
    }
    if (slow) this.slow++
  }

  markDue(): void {
    this.used = true
  }

  /** Whether the periodic resync should look at this circuit. */
  due(): boolean {
    const due = this.used || this.breaker.circuit.current._tag !== "Closed"
    this.used = false
    return due
  }

  flush(now: number): Effect.Effect<void> {
    if (this.calls === 0) return Effect.void
    const { batchGen, calls, failures, sawSuccess, slow, trailing } = this
    this.dropBatch()
    return this.sendBatch(now, batchGen, calls, failures, slow, trailing, sawSuccess)
  }

  /** Sends outcomes counted under fleet generation `gen` to be merged into the fleet's window. */
  private sendBatch(
    now: number,
    gen: number,
    calls: number,
    failures: number,
    slow: number,
    trailing: number,
    sawSuccess: boolean
  ): Effect.Effect<void> {
    const args = [String(gen), calls, failures, slow, trailing, sawSuccess ? 0 : 1, ...this.rules]
    return this.call("flush", now, args, (error) =>
      Effect.suspend(() => {
        // Kept for the next flush when Redis surely did not run it (and the circuit did not move on):
        // after a timeout it may have, and an outcome counted twice is worse than one lost.
        if (this.gen === gen && notRun(error)) this.keep(gen, calls, failures, slow, trailing, sawSuccess)
        return this.store.lost(error)
      }))
  }

  /** Catches up with the fleet's state. */
  sync(now: number): Effect.Effect<void> {
    return this.call("sync", now, ["", 0, 0, 0])
  }

  /**
   * After an outage (or at the first connection): the operator's pending
   * control call, then the fleet's state, then the outcomes counted
   * meanwhile. A circuit this instance holds open re-opens a fleet circuit
   * that has recorded nothing, such as one lost by a Redis restart.
   */
  rejoin(now: number): Effect.Effect<void> {
    const control = this.pendingControl
    this.pendingControl = undefined
    const epoch = this.store.epoch
    const known = this.beforeOutage ?? this.localState(now)
    // An opening that has ended is no news for the fleet.
    const seed = known.state === "Open" && known.until <= now
      ? { state: "Closed" as const, until: 0, openedAt: 0 }
      : known
    const first = control === undefined ?
      Effect.void :
      this.call("control", now, [control], (error) =>
        Effect.suspend(() => {
          this.pendingControl ??= control
          return this.store.lost(error)
        }))
    const sync = this.call(
      "sync",
      now,
      [seed.state, Math.max(0, seed.until - now), this.breaker.circuit.consecutiveOpenings, seed.openedAt],
      undefined,
      "StoreSync"
    )
    const flush = Effect.suspend(() => {
      if (this.store.epoch !== epoch) return Effect.void
      // The fleet has this instance's state now: what the outage made of the breaker is history.
      this.beforeOutage = undefined
      // An operator's control call made while this catch-up ran goes to the fleet now.
      const late = this.pendingControl
      if (late !== undefined) {
        this.pendingControl = undefined
        return Effect.andThen(this.call("control", now, [late]), this.flushKept(now, epoch))
      }
      return this.flushKept(now, epoch)
    })
    return Effect.andThen(Effect.andThen(first, sync), flush)
  }

  /** The outcomes counted during an outage, sent once the circuit caught up. */
  private flushKept(now: number, epoch: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.store.epoch !== epoch) return Effect.void
      // Outcomes seen during the outage are real and join the fleet's window, unless a time window
      // has moved past them: they would all land in the current bucket.
      const window = this.config.window
      if (
        this.calls > 0 && window._tag === "TimeWindow" &&
        now - this.batchStartedAt >= Duration.toMillis(window.duration)
      ) {
        this.dropBatch()
        return Effect.void
      }
      this.batchGen = this.gen
      return this.flush(now)
    })
  }

  /** The store closes: this breaker goes on with its local circuit, as it was before any outage. */
  get leave(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.breaker.circuit.localTrips = true
      const before = this.beforeOutage
      this.beforeOutage = undefined
      if (before === undefined) return Effect.void
      // An opening that ended meanwhile ends here too: the circuit half-opens on its next read.
      return this.breaker.applyRemote(before.state, before.until, this.openings, "StoreSync")
    })
  }

  /** Redis is unreachable: the local circuit decides alone, or rejects every call. */
  goLocal(): Effect.Effect<void> {
    if (this.store.isClosed) return Effect.void
    const circuit = this.breaker.circuit
    circuit.localTrips = true
    if (this.store.settings.onUnavailable === "allow") return Effect.void
    return Effect.suspend(() => {
      this.beforeOutage ??= this.localState(this.store.clock.currentTimeMillisUnsafe())
      return this.breaker.applyRemote("ForcedOpen", 0, circuit.consecutiveOpenings, "StoreUnavailable")
    })
  }

  admit(now: number): Effect.Effect<RemoteGrant | Rejection | "local"> {
    // Shared mode: once the fleet said no probe is left, callers are turned away here until newer
    // news arrives (a transition, or the next resync), instead of each asking Redis again.
    if (this.probesExhausted && !this.store.strict && this.breaker.circuit.current._tag === "HalfOpen") {
      return this.rejection(now)
    }
    const epoch = this.store.epoch
    // The caller may leave while it waits for Redis (a timeout around the call, an interrupted
    // request): the wait is interruptible even inside the breaker's mask, and an answer that comes
    // after the caller left gives back the lease it carries.
    const answer = Effect.interruptible(
      this.store.runHeld(this.scriptCall("admit", now, []), (raw) => this.giveBack(raw, now))
    )
    return Effect.flatMap(
      Effect.exit(answer),
      (exit): Effect.Effect<RemoteGrant | Rejection | "local"> => {
        if (Exit.isFailure(exit)) {
          // The caller left: nothing was admitted, and Redis is not to blame.
          if (Cause.hasInterruptsOnly(exit.cause)) return Effect.failCause(exit.cause as Cause.Cause<never>)
          // Redis is gone: the local circuit decides this call.
          return Effect.as(this.store.lost(Cause.squash(exit.cause)), "local" as const)
        }
        return Effect.flatMap(
          this.apply(exit.value, "admit", now, undefined, epoch),
          (reply): Effect.Effect<RemoteGrant | Rejection | "local"> => {
            // Not applied (the store went down meanwhile, or the answer is unreadable): a lease it
            // may carry goes back, and the local circuit decides.
            if (reply === undefined) return Effect.as(this.giveBack(exit.value, now), "local" as const)
            const granted = reply[12]
            if (granted >= 0) {
              const state: Admission["state"] = granted > 0
                ? "HalfOpen"
                : reply[1] === "Disabled"
                ? "Disabled"
                : "Closed"
              return Effect.succeed<RemoteGrant>({ token: granted, gen: reply[3], state })
            }
            if (reply[1] === "HalfOpen" && Number(reply[3]) >= this.gen) this.probesExhausted = true
            return this.rejection(now)
          }
        )
      }
    )
  }

  done(grant: RemoteGrant, outcome: Outcome, slow: boolean, now: number): Effect.Effect<void> {
    if (grant.token > 0) {
      // Judged as in memory (a slow probe fails when slow calls can trip the circuit).
      const reported = outcome === "ignored"
        ? outcome
        : this.breaker.circuit.probeFailed(outcome, slow)
        ? "failure"
        : "success"
      // A lost probe report is not retried: the lease expires and another instance probes.
      return this.call("probe", now, [String(grant.token), reported, this.config.successThreshold])
    }
    if (outcome === "ignored") return Effect.void
    const failure = outcome === "failure" ? 1 : 0
    return this.sendBatch(now, Number(grant.gen), 1, failure, slow ? 1 : 0, failure, failure === 0)
  }

  control(target: "ForcedOpen" | "Disabled" | "Reset", now: number): Effect.Effect<void> {
    if (!this.store.up) {
      this.pendingControl = target
      return Effect.void
    }
    return this.call("control", now, [target], (error) =>
      Effect.suspend(() => {
        this.pendingControl = target
        return this.store.lost(error)
      }))
  }

  /** A transition message from the channel. */
  hear(message: Message): Effect.Effect<void> {
    const gen = Number(message.gen)
    if (!(gen > this.gen)) return Effect.void
    if (!this.store.up) {
      // While Redis counts as unreachable the breaker decides locally; the news is read again once
      // the store is back.
      this.missedNews = true
      return Effect.void
    }
    this.gen = gen
    this.openings = message.openings
    this.probesExhausted = false
    // The message says how long the opening lasts from when it was sent: the receiver's clock takes over.
    const until = this.store.clock.currentTimeMillisUnsafe() + message.remaining
    return this.breaker.applyRemote(message.state, until, message.openings, message.reason)
  }

  /** Gives back the probe lease an admission answer carries, when nobody will use it. */
  private giveBack(raw: unknown, now: number): Effect.Effect<void> {
    const decoded = decodeReply(raw)
    if (Exit.isFailure(decoded) || decoded.value[12] <= 0) return Effect.void
    const call = this.scriptCall("probe", now, [String(decoded.value[12]), "ignored", this.config.successThreshold])
    return Effect.ignore(this.store.run(call))
  }

  private localState(now: number): LocalState {
    const phase = this.breaker.circuit.advance(now)
    return phase._tag === "Open"
      ? { state: "Open", until: phase.until, openedAt: phase.openedAt }
      : { state: phase._tag, until: 0, openedAt: 0 }
  }

  private dropBatch(): void {
    this.calls =
      this.failures =
      this.slow =
      this.trailing =
        0
    this.sawSuccess = false
  }

  private keep(
    gen: number,
    calls: number,
    failures: number,
    slow: number,
    trailing: number,
    sawSuccess: boolean
  ): void {
    if (this.calls === 0) {
      this.batchGen = gen
      this.batchStartedAt = this.store.clock.currentTimeMillisUnsafe()
      this.store.dirty.add(this)
    } else if (this.batchGen !== gen) {
      return
    }
    // The kept batch is older than what was counted since.
    this.trailing = this.sawSuccess ? this.trailing : this.trailing + trailing
    this.sawSuccess = this.sawSuccess || sawSuccess
    this.calls += calls
    this.failures += failures
    this.slow += slow
  }

  private rejection(now: number): Effect.Effect<Rejection> {
    return Effect.sync(() => {
      const circuit = this.breaker.circuit
      const phase = circuit.advance(now)
      if (phase._tag === "Open" || phase._tag === "HalfOpen" || phase._tag === "ForcedOpen") {
        return circuit.reject(phase, now)
      }
      // The fleet rejected, but its newer state reached this instance first: reject as at the end of an opening.
      return circuit.reject({ _tag: "Open", gen: -1, openedAt: now, until: now }, now)
    })
  }

  private scriptCall(op: ScriptCall["op"], now: number, extra: ReadonlyArray<string | number>): ScriptCall {
    const settings = this.store.settings
    const config = this.config
    return {
      keys: this.keys,
      op,
      // Whole milliseconds: the script keeps integers (a TestClock can stand at 1.5 ms).
      now: Math.floor(now),
      idleMillis: settings.idleMillis,
      channel: this.store.channel,
      name: this.breaker.name,
      permits: config.halfOpenPermits,
      openMillis: this.openMillis(now),
      maxWaitMillis: this.maxWaitMillis,
      leaseMillis: settings.leaseMillis,
      origin: this.store.origin,
      knownGen: this.gen,
      extra
    }
  }

  /** The next opening's duration for the fleet's count of openings: stepped once per count, not per call. */
  private openMillis(now: number): number {
    if (this.openMillisOpenings !== this.openings) {
      this.openMillisOpenings = this.openings
      this.openMillisCached = this.breaker.circuit.openMillisFor(this.openings + 1, now)
    }
    return this.openMillisCached
  }

  /** Runs an operation and applies its reply; a failure marks Redis unreachable (or runs `onError`). */
  private call(
    op: ScriptCall["op"],
    now: number,
    extra: ReadonlyArray<string | number>,
    onError?: (error: Redis.RedisError) => Effect.Effect<void>,
    reason?: TransitionReason
  ): Effect.Effect<void> {
    const epoch = this.store.epoch
    return this.store.run(this.scriptCall(op, now, extra)).pipe(
      Effect.flatMap((raw) => this.apply(raw, op, now, reason, epoch)),
      Effect.asVoid,
      Effect.catch((error) => onError === undefined ? this.store.lost(error) : onError(error))
    )
  }

  /**
   * Moves the local circuit to the state in the reply to an operation sent at
   * `now`, unless a newer state was seen already.
   */
  private apply(
    raw: unknown,
    op: string,
    now: number,
    reason: TransitionReason | undefined,
    epoch: number
  ): Effect.Effect<Reply | undefined> {
    return Effect.flatMap(this.store.report(raw, `${op} on circuit "${this.breaker.name}"`), (reply) => {
      // An answer sent before an outage began must not undo what the outage did.
      if (reply === undefined || this.store.epoch !== epoch) return Effect.succeed(undefined)
      const gen = Number(reply[3])
      if (gen < this.gen) return Effect.succeed(reply)
      this.gen = gen
      this.openings = reply[5]
      if (reply[1] !== "HalfOpen" || reply[6] > 0) this.probesExhausted = false
      const why = reply[13] !== "" ? reply[13] : reason ?? reply[2]
      // The remaining time counts from when the operation was sent, not from when its reply arrived.
      return Effect.as(this.breaker.applyRemote(reply[1], now + reply[4], reply[5], why), reply)
    })
  }
}
