/**
 * The Redis circuit store: its connection and the outages of Redis (connect,
 * lost, regained, recover, close, one log line per outage), and the loops
 * that flush counted outcomes and resynchronise circuits. Commands and their
 * timeout are `internal/redisCommands.ts`; each breaker's link to its shared
 * circuit is an `Attachment` (`internal/redisAttachment.ts`).
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
import {
  Cause,
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Queue,
  References,
  Schema,
  Scope,
  SubscriptionRef
} from "effect"
import * as Redis from "effect/persistence/Redis"
import { storeTypeId } from "../CircuitStore.js"
import type { TypeId } from "../CircuitStore.js"
import { ConfigIssue } from "../ConfigIssue.js"
import { PolicyConfigError } from "../PolicyConfigError.js"
import type { CircuitBreakerImpl } from "./breaker.js"
import { LogThrottle } from "./logThrottle.js"
import { Attachment } from "./redisAttachment.js"
import { RedisCommands } from "./redisCommands.js"
import { describe, timedOut } from "./redisErrors.js"
import { Hints } from "./redisHints.js"
import type { Reply, ScriptCall } from "./redisScript.js"
import { decodeReply, Message } from "./redisScript.js"
import type { StoreImpl } from "./store.js"

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
  /** The commands, on the current connection. */
  readonly commands: RedisCommands
  /** Set when the store's scope closes: nothing it started may move a breaker afterwards. */
  private closed = false

  get isClosed(): boolean {
    return this.closed
  }
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
    this.hints = new Hints(settings.flushMillis)
    this.commands = new RedisCommands(settings.commandTimeoutMillis, forkRoot, () => this.silent())
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

  report(raw: unknown, context: string): Effect.Effect<Reply | undefined> {
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
    if (reply[0] === "") return Effect.succeed(reply)
    return Effect.as(
      this.foreignData.warn(
        now,
        () =>
          `Redis circuit store found data it did not write (${
            reply[0]
          }): treated as absent, replaced by a fresh circuit`
      ),
      reply
    )
  }

  *allAttachments(): Iterable<Attachment> {
    for (const same of this.attachments.values()) yield* same
  }

  /** The current connection (commands and subscriber), in a scope of its own; none while the store closes. */
  private connection: Connection | undefined = undefined
  /** Drops the current connection and makes a new one; set by `start`. */
  private replace: ((cause: unknown) => Effect.Effect<void>) | undefined = undefined
  private replacing = false

  /**
   * A command got no answer within the command timeout, and nothing else
   * answered since it was sent: Redis hangs, or the connection died without
   * the socket noticing (a network that drops packets). The client would
   * wait on it for ever, so the store drops it, subscriber included, and
   * connects again.
   */
  private silent(): void {
    const replace = this.replace
    if (replace === undefined || this.replacing || this.closed) return
    this.replacing = true
    this.forkRoot(Effect.ensuring(
      replace(timedOut(this.settings.commandTimeoutMillis)),
      Effect.sync(() => {
        this.replacing = false
      })
    ))
  }

  /** Starts connecting, the loops and the subscription, in `scope`. */
  start(scope: Scope.Scope): Effect.Effect<void, PolicyConfigError> {
    return Effect.gen({ self: this }, function*() {
      if (this.started) return
      this.started = true
      const NodeRedis = yield* loadNodeRedis
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
            const commandClient = this.connection?.client
            if (commandClient === undefined || !commandClient.isReady) {
              runFork(Effect.andThen(this.lost(cause), Deferred.done(firstAttempt, Exit.void)))
            }
            return reconnectDelay(retries)
          }
        }
      }
      // Every connection lives in a scope of its own under this one, closed after `close` ran.
      const connections = yield* Scope.fork(scope)
      // Runs before the connection closes: breakers outliving the store decide locally.
      yield* Scope.addFinalizer(scope, this.close)
      const connect = Effect.gen({ self: this }, function*() {
        const connectionScope = yield* Scope.fork(connections)
        const connection: Connection = { scope: connectionScope, client: undefined }
        this.connection = connection
        // NodeRedis logs every reconnection attempt; the store logs once per outage instead.
        const context = yield* Layer.buildWithScope(NodeRedis.layer(options), connectionScope).pipe(
          Effect.provideService(References.MinimumLogLevel, "Error")
        )
        const redis = Context.get(context, Redis.Redis)
        const client = Context.get(context, NodeRedis.NodeRedis).client
        connection.client = client
        // Closing waits for the commands in flight, at most the command timeout: a dead connection
        // would keep it waiting for ever.
        yield* Scope.addFinalizer(
          connectionScope,
          Effect.promise(() => closeWithin(client, this.settings.commandTimeoutMillis))
        )
        this.commands.use(redis)
        client.on("ready", () => runFork(Effect.forkIn(this.regained, scope)))
        const messages = yield* redis.subscribe(this.channel).pipe(Scope.provide(connectionScope))
        yield* Effect.forkIn(this.listen(messages, connection), connectionScope)
        yield* this.regained
        yield* Deferred.done(firstAttempt, Exit.void)
      })
      const failed = (cause: Cause.Cause<unknown>) =>
        Effect.andThen(this.lost(Cause.squash(cause)), Deferred.done(firstAttempt, Exit.void))
      const connectOrFail = Effect.catchCause(connect, failed)
      this.replace = (cause) =>
        Effect.suspend(() => {
          const old = this.connection
          this.connection = undefined
          this.commands.drop()
          // The commands in flight fail at once, and the socket closes, subscriber included.
          old?.client?.destroy()
          return Effect.andThen(
            Effect.andThen(this.lost(cause), old === undefined ? Effect.void : Scope.close(old.scope, Exit.void)),
            connectOrFail
          )
        }).pipe(Effect.forkIn(scope), Effect.flatMap(Fiber.join))
      yield* Effect.forkIn(connectOrFail, scope)
      yield* Effect.forkIn(this.every(this.settings.flushMillis, Effect.andThen(this.flushAll, this.syncHinted)), scope)
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
      this.commands.drop()
      this.outageLogged = true
      return Effect.andThen(
        Effect.forEach(this.allAttachments(), (attachment) => attachment.leave, { discard: true }),
        SubscriptionRef.set(this.status, false)
      )
    })
  }

  private listen(
    messages: Queue.Dequeue<Redis.RedisMessage, Redis.RedisError>,
    connection: Connection
  ): Effect.Effect<void> {
    return Effect.forever(
      Effect.flatMap(Queue.take(messages), (message) => this.receive(message.message))
    ).pipe(Effect.catchCause((cause) =>
      // The subscription of a connection the store dropped ends with it: no news.
      this.connection === connection ? this.lost(Cause.squash(cause)) : Effect.void
    ))
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

/** One connection to Redis: the command client and its subscriber, closed with `scope`. */
interface Connection {
  readonly scope: Scope.Closeable
  client: NodeRedisModule.NodeRedis["Service"]["client"] | undefined
}

/**
 * Closes a client once the commands in flight are answered, or after
 * `millis` at the latest, dropping what is still in flight.
 */
const closeWithin = (client: NodeRedisModule.NodeRedis["Service"]["client"], millis: number): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.destroy()
      resolve()
    }, millis)
    const done = () => {
      clearTimeout(timer)
      resolve()
    }
    try {
      client.close().then(done, done)
    } catch {
      // Closed already (the connection was dropped).
      done()
    }
  })

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
