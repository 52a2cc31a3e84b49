/**
 * The Redis circuit store: what the outages of Redis mean to its circuits
 * (lost, regained, recover, close, one log line per outage), the loops that
 * flush counted outcomes and resynchronise circuits, and what it hears
 * (messages as hints, reports of bad input). The connection is
 * `internal/redisConnection.ts`, commands and their timeout
 * `internal/redisCommands.ts`, and each breaker's link to its shared circuit
 * a `RedisLink` (`internal/redisLink.ts`).
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
import { Cause, Duration, Effect, Exit, Fiber, Schema, Scope, SubscriptionRef } from "effect"
import type * as Redis from "effect/persistence/Redis"
import { CircuitBreakerConfigError } from "../CircuitBreakerConfig.js"
import { storeTypeId } from "../CircuitStore.js"
import type { CircuitStore, LocalCircuit, TypeId } from "../CircuitStore.js"
import { ConfigIssue } from "../ConfigIssue.js"
import type { PolicyConfigError } from "../PolicyConfigError.js"
import { LogThrottle } from "./logThrottle.js"
import type { CommandExit } from "./redisCommands.js"
import { RedisCommands } from "./redisCommands.js"
import { RedisConnection } from "./redisConnection.js"
import type { RedisConnectionSettings } from "./redisConnectionOptions.js"
import { describe } from "./redisErrors.js"
import { heartbeat, leave } from "./redisFleet.js"
import { Hints } from "./redisHints.js"
import { RedisLink } from "./redisLink.js"
import type { CircuitReply, ScriptCall } from "./redisScript.js"
import { decodeReply, Message } from "./redisScript.js"

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

/** Outages closer together than this are logged as one. */
const outageLogInterval = 60_000

/** Bad input of one kind (messages, data in Redis) is logged at most once per this. */
const badInputLogInterval = 60_000

/** @internal */
export class RedisStore implements CircuitStore {
  readonly [storeTypeId]: TypeId = storeTypeId
  readonly kind = "redis" as const
  readonly strict: boolean
  readonly channel: string
  /** Names this store in the messages it publishes. */
  readonly origin = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`
  /** Whether Redis answered the last command and the connection has not dropped since. */
  up = false
  /** The commands, on the current connection. */
  readonly commands: RedisCommands
  private readonly connection: RedisConnection
  /** Set when the store's scope closes: nothing it started may move a breaker afterwards. */
  private closed = false

  get isClosed(): boolean {
    return this.closed
  }
  readonly attachments = new Map<string, Set<RedisLink>>()
  readonly dirty = new Set<RedisLink>()
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
    this.hints = new Hints(settings.flushMillis)
    this.commands = new RedisCommands(settings.commandTimeoutMillis, forkRoot, () => this.connection.silent())
    this.connection = new RedisConnection({
      connection: settings.connection,
      channel: this.channel,
      commandTimeoutMillis: settings.commandTimeoutMillis,
      commands: this.commands,
      lost: (cause) => this.lost(cause),
      regained: Effect.suspend(() => this.regained),
      receive: (message) => this.receive(message)
    }, forkRoot)
  }

  link(local: LocalCircuit, scope: Scope.Scope): Effect.Effect<RedisLink, CircuitBreakerConfigError> {
    return Effect.suspend(() => {
      const attachment = new RedisLink(this, local)
      let same = this.attachments.get(local.name)
      if (same === undefined) {
        same = new Set()
        this.attachments.set(local.name, same)
      }
      same.add(attachment)
      const detachObserver = local.observe(attachment)
      local.tripsOnOwnWindow(!this.up)
      const detach = Effect.suspend(() => {
        // Outcomes counted but not flushed yet are sent before the breaker goes: nothing is lost.
        const last = this.up ? attachment.flush(this.clock.currentTimeMillisUnsafe()) : Effect.void
        return Effect.ensuring(
          last,
          Effect.sync(() => {
            detachObserver()
            same.delete(attachment)
            if (same.size === 0) this.attachments.delete(local.name)
            this.dirty.delete(attachment)
          })
        )
      })
      const join = this.up
        ? attachment.sync(this.clock.currentTimeMillisUnsafe())
        : attachment.goLocal()
      return Effect.andThen(Scope.addFinalizer(scope, detach), join).pipe(
        Effect.andThen(Effect.suspend(() => {
          const kept = attachment.conflictingFingerprint
          // Strict mode promises one circuit: a breaker configured unlike the fleet's is refused.
          if (!this.strict || kept === undefined) return Effect.succeed(attachment)
          return Effect.fail(
            new CircuitBreakerConfigError({
              breaker: local.name,
              issues: [
                new ConfigIssue({
                  field: "name",
                  rule: `names a circuit shared through Redis (strict mode) by instances configured differently ` +
                    `(fingerprint ${kept}, this configuration ${attachment.fingerprint}): give differently ` +
                    `configured breakers different names`
                })
              ]
            })
          )
        }))
      )
    })
  }

  /** Runs one script operation; a failure means Redis is unreachable. */
  run(call: ScriptCall): Effect.Effect<unknown, Redis.RedisError> {
    return this.commands.run(call)
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
    return this.commands.runHeld(call, abandoned)
  }

  /**
   * Sends a script operation now, from outside any fiber (strict mode's
   * tick): `onExit` hears its reply or its failure, at the latest at the
   * command timeout, and an answer that comes later goes to `abandoned`.
   * The store waits for it before it closes.
   */
  sendScript(
    call: ScriptCall,
    onExit: (exit: CommandExit) => void,
    abandoned: (raw: unknown) => Effect.Effect<void>
  ): void {
    this.commands.sendScript(call, onExit, abandoned)
  }

  /**
   * While the store counts Redis as unreachable but the connection stands
   * (a command failed without the socket dropping), a PING tells when to
   * catch up again.
   */
  get recover(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.up || !this.commands.connected) return Effect.void
      // The store is up again only once its scripts run: a PING alone says little.
      return this.commands.ping.pipe(
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

  /** Whether Redis answers: the store is up, or catching up after an outage. */
  get answering(): boolean {
    return this.up || this.rejoining
  }

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
        for (const attachment of this.allAttachments()) attachment.storeUp()
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

  /** Hints from the channel, coalesced: at most one read per circuit per flush interval. */
  private readonly hints: Hints
  /** Bad input is logged at most once a minute for each kind, with a count of what was left out. */
  private readonly badMessages = new LogThrottle(badInputLogInterval)
  private readonly unreadableReplies = new LogThrottle(badInputLogInterval)
  private readonly foreignData = new LogThrottle(badInputLogInterval)

  /**
   * A message on the transitions channel: a hint that a circuit may have
   * news, never news itself (`internal/redisHints.ts`). A circuit this
   * instance uses, hinted at with a generation newer than the one it knows,
   * is read from Redis: at once, or with the next flush when it was read for
   * a hint less than a flush interval ago.
   */
  receive(raw: string): Effect.Effect<void> {
    return Effect.suspend(() => {
      const decoded = decodeMessage(raw)
      const now = this.clock.currentTimeMillisUnsafe()
      if (Exit.isFailure(decoded)) {
        return this.badMessages.warn(
          now,
          () =>
            `Redis circuit store ignored a message on ${this.channel} that is not a transition: ${
              JSON.stringify(raw.slice(0, 200))
            }`
        )
      }
      const message = decoded.value
      const attachments = this.attachments.get(message.name)
      if (attachments === undefined) return Effect.void
      const gen = Number(message.gen)
      const behind = [...attachments].filter((attachment) => gen > attachment.gen)
      if (behind.length === 0) return Effect.void
      if (!this.up) {
        // While Redis counts as unreachable the breakers decide locally; the circuit is read again
        // once the store is back.
        for (const attachment of behind) attachment.missedNews = true
        return Effect.void
      }
      if (!this.hints.hint(message.name, now)) return Effect.void
      return Effect.forEach(behind, (attachment) => attachment.sync(now), { discard: true })
    })
  }

  /** Reads the circuits whose hints waited for their interval to pass. */
  get syncHinted(): Effect.Effect<void> {
    return Effect.suspend(() => {
      const now = this.clock.currentTimeMillisUnsafe()
      const due = this.hints.due(now)
      // While the store is down, every circuit is read when it is back.
      if (!this.up || due.length === 0) return Effect.void
      const attachments = due.flatMap((name) => [...(this.attachments.get(name) ?? [])])
      return Effect.forEach(attachments, (attachment) => attachment.sync(now), { concurrency, discard: true })
    })
  }

  report(raw: unknown, context: string): Effect.Effect<CircuitReply | undefined> {
    const decoded = decodeReply(raw)
    const now = this.clock.currentTimeMillisUnsafe()
    if (Exit.isFailure(decoded)) {
      return Effect.as(
        this.unreadableReplies.warn(
          now,
          () => `Redis circuit store could not read the reply to ${context}: ${Cause.pretty(decoded.cause)}`
        ),
        undefined
      )
    }
    const reply = decoded.value
    if (reply.corrupt === "") return Effect.succeed(reply)
    return Effect.as(
      this.foreignData.warn(
        now,
        () =>
          `Redis circuit store found data it did not write (${reply.corrupt}): treated as absent, replaced by a fresh circuit`
      ),
      reply
    )
  }

  *allAttachments(): Iterable<RedisLink> {
    for (const same of this.attachments.values()) yield* same
  }

  /** Starts connecting, the loops and the subscription, in `scope`. */
  start(scope: Scope.Scope): Effect.Effect<void, PolicyConfigError> {
    return Effect.gen({ self: this }, function*() {
      if (this.started) return
      this.started = true
      // The connections close after `close` ran: breakers outliving the store decide locally first.
      const connections = yield* Scope.fork(scope)
      yield* Scope.addFinalizer(scope, this.close)
      const firstAttempt = yield* this.connection.start(connections, scope)
      yield* Effect.forkIn(this.every(this.settings.flushMillis, Effect.andThen(this.flushAll, this.syncHinted)), scope)
      yield* Effect.forkIn(
        this.every(this.settings.resyncMillis, Effect.suspend(() => this.up ? this.resync(false) : this.recover)),
        scope
      )
      // Counted among the fleet's live instances while it renews its entry (internal/redisFleet.ts).
      yield* Effect.forkIn(this.every(this.settings.resyncMillis, heartbeat(this)), scope)
      // The layer is ready once the first connection attempt succeeded or failed: never blocked on Redis.
      yield* firstAttempt
    })
  }

  /** What was warned about once already (keys of `warnOnce`). */
  private readonly warned = new Set<string>()

  /** Logs `message` as a warning the first time `key` is seen, for as long as the store lives. */
  warnOnce(key: string, message: string): Effect.Effect<void> | undefined {
    if (this.warned.has(key)) return undefined
    this.warned.add(key)
    return Effect.logWarning(message)
  }

  /** Operations started for callers that do not wait for their answers (calls' outcomes). */
  private readonly detached = new Set<Fiber.Fiber<void>>()

  /**
   * Starts `operation` now, in a fiber of its own, for a caller that does
   * not wait for its answer; the store waits for it before it closes. The
   * command is written before this returns, so any command sent afterwards
   * reaches Redis after it.
   */
  detach(operation: Effect.Effect<void>): Effect.Effect<void> {
    return Effect.sync(() => this.startDetached(operation))
  }

  /** `detach`, from outside any fiber. */
  startDetached(operation: Effect.Effect<void>): void {
    const fiber = this.forkRoot(operation)
    if (fiber.pollUnsafe() !== undefined) return
    this.detached.add(fiber)
    fiber.addObserver(() => this.detached.delete(fiber))
  }

  /** The store is closing: outcomes on their way are answered first (each waits at most the command timeout). */
  private get close(): Effect.Effect<void> {
    return Effect.andThen(
      Effect.suspend(() => {
        // Strict mode's outcomes waiting for the end of the tick go now, while the connection stands.
        if (this.up) {
          for (const link of this.allAttachments()) link.sendOutcomesNow()
          this.startDetached(leave(this))
        }
        // Commands sent from outside a fiber first: what their answers start joins the detached fibers.
        return Effect.andThen(this.commands.idle, Effect.suspend(() => Fiber.awaitAll([...this.detached])))
      }),
      this.leaveAll
    )
  }

  /** Breakers that outlive the store go on with their local circuits. */
  private get leaveAll(): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.closed = true
      this.up = false
      this.epoch++
      this.commands.drop()
      this.outageLogged = true
      return Effect.andThen(
        Effect.forEach(this.allAttachments(), (attachment) => attachment.leave, { discard: true }),
        SubscriptionRef.set(this.status, false)
      )
    })
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
