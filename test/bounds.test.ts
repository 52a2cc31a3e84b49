/**
 * Every public constructor and every environment variable, fuzzed: a valid
 * input constructs; an invalid one (huge, negative, NaN, infinite,
 * fractional, of the wrong type, unknown, past its bound) fails with the
 * typed configuration error whose issues name each broken field and its
 * rule — never a defect, a throw, or an allocation past the documented
 * bounds (`Limits`).
 */
import { describe, expect, it } from "@effect/vitest"
import type { Scope } from "effect"
import { ConfigProvider, Duration, Effect, Exit, Layer, Metric } from "effect"
import { HttpRouter } from "effect/http"
import fc from "fast-check"
import {
  Bulkhead,
  CircuitBreaker,
  CircuitBreakerConfig,
  CircuitBreakerRegistry,
  Fallback,
  Health,
  Hedge,
  Limits,
  Policy,
  RedisCircuitStore,
  Retry,
  SlidingWindow,
  Timeout
} from "../src/index.js"
import { decode as decodeStoreOptions } from "../src/RedisCircuitStore.js"

// ---------------------------------------------------------------------------
// Values: what code writes (`input`), what it means (`n`: a count, a number,
// milliseconds), and how an operator writes it in a variable (`text`).
// ---------------------------------------------------------------------------

interface Value {
  readonly input: unknown
  readonly n: number
  readonly text: string | undefined
}

type Kind =
  | { readonly _tag: "Int"; readonly min: number; readonly max: number }
  | { readonly _tag: "Real"; readonly min: number; readonly max: number; readonly exclusiveMin?: true }
  | { readonly _tag: "Duration"; readonly allowZero: boolean; readonly max: number }
  | { readonly _tag: "Boolean" }
  | { readonly _tag: "Name" }
  | { readonly _tag: "Literal"; readonly values: ReadonlyArray<string> }
  | { readonly _tag: "Prefix" }
  | { readonly _tag: "Url" }
  | { readonly _tag: "Path" }
  | { readonly _tag: "Window" }
  | { readonly _tag: "Instance"; readonly valid: unknown; readonly wrong: ReadonlyArray<unknown> }

const Int = (min: number, max: number): Kind => ({ _tag: "Int", min, max })
const Real = (min: number, max: number, exclusiveMin?: true): Kind =>
  exclusiveMin ? { _tag: "Real", min, max, exclusiveMin } : { _tag: "Real", min, max }
const Dur = (allowZero: boolean, max = Duration.toMillis(Limits.maxDuration)): Kind => ({
  _tag: "Duration",
  allowZero,
  max
})
const Bool: Kind = { _tag: "Boolean" }
const NameKind: Kind = { _tag: "Name" }

const maxMillis = Duration.toMillis(Limits.maxDuration)

const plain = (input: unknown, n = 0, text: string | undefined = undefined): Value => ({ input, n, text })

/** The ways to write `millis`, in code and in a variable. */
const durationForms = (m: number): ReadonlyArray<readonly [unknown, string]> => {
  const forms: Array<readonly [unknown, string]> = [
    [m, String(m)],
    [`${m}ms`, `${m}ms`],
    [`${m} millis`, `${m} millis`],
    [Duration.millis(m), String(m)],
    [{ milliseconds: m }, ` ${m} `]
  ]
  if (Number.isInteger(m) && m % 1000 === 0) {
    const s = m / 1000
    forms.push([`${s}s`, `${s}s`], [`PT${s}S`, `PT${s}S`], [`${s} seconds`, `${s} seconds`])
    forms.push([`${Math.floor(s / 60)}m${s % 60}s`, `${Math.floor(s / 60)}m ${s % 60}s`])
    if (s % 60 === 0) forms.push([`PT${s / 60}M`, `pt${s / 60}m`], [`${s / 60}m`, `${s / 60}m`])
    if (s % 3600 === 0) forms.push([`${s / 3600}h`, `${s / 3600}h`], [`P0DT${s / 3600}H`, `P0DT${s / 3600}H`])
    if (s % 86_400 === 0) forms.push([`P${s / 86_400}D`, `P${s / 86_400}D`], [`${s / 86_400}d`, `${s / 86_400}d`])
  }
  return forms
}

const validMillis = (allowZero: boolean, max: number): fc.Arbitrary<number> =>
  fc.oneof(
    ...(allowZero ? [fc.constant(0)] : []),
    fc.constantFrom(
      ...[1, 1000, 60_000, 3_600_000, 86_400_000, max, max - (max % 1000)].filter((m) => m >= 1 && m <= max)
    ),
    fc.integer({ min: 1, max }),
    fc.integer({ min: 1, max: Math.floor(max / 1000) }).map((s) => s * 1000),
    fc.double({ min: 1, max, noNaN: true })
  )

const durationValue = (allowZero: boolean, max: number): fc.Arbitrary<Value> =>
  fc.tuple(validMillis(allowZero, max), fc.nat()).map(([m, pick]) => {
    const forms = durationForms(m)
    const [input, text] = forms[pick % forms.length]!
    return { input, n: m, text }
  })

const valid = (kind: Kind): fc.Arbitrary<Value> => {
  switch (kind._tag) {
    case "Int":
      return fc.oneof(fc.constantFrom(kind.min, kind.max), fc.integer({ min: kind.min, max: kind.max })).map((n) =>
        plain(n, n, String(n))
      )
    case "Real":
      return fc.oneof(
        fc.constantFrom(kind.max, ...(kind.exclusiveMin ? [] : [kind.min])),
        fc.double({ min: kind.min, max: kind.max, noNaN: true }).filter((x) => !kind.exclusiveMin || x > kind.min)
      ).map((x) => plain(x, x, String(x)))
    case "Duration":
      return durationValue(kind.allowZero, kind.max)
    case "Boolean":
      return fc.tuple(fc.boolean(), fc.constantFrom("", "upper")).map(([b, style]) =>
        plain(b, b ? 1 : 0, style === "upper" ? String(b).toUpperCase() : String(b))
      )
    case "Name":
      return fc.string({ minLength: 1, maxLength: 24 }).filter((s) => s.trim().length > 0).map((s) => plain(s, 0, s))
    case "Literal":
      return fc.constantFrom(...kind.values).map((s) => plain(s, 0, s))
    case "Prefix":
      return fc.string({ minLength: 1, maxLength: Limits.maxPrefixLength }).filter((s) => s.trim().length > 0).map((
        s
      ) => plain(s, 0, s))
    case "Url":
      return fc.constantFrom("redis://localhost:6379", "rediss://cache.internal:6380/0").map((s) => plain(s, 0, s))
    case "Path":
      return fc.constantFrom("/health", "/health/circuits", "*").map((s) => plain(s, 0, s))
    case "Window":
      return fc.oneof(
        fc.integer({ min: 1, max: Limits.maxCountWindowSize }).map((size) =>
          plain(SlidingWindow.countWindow(size), size)
        ),
        fc.tuple(durationValue(false, maxMillis), fc.integer({ min: 1, max: Limits.maxTimeWindowBuckets })).map((
          [duration, buckets]
        ) =>
          // A time window means no count-window rule: n is how many calls it would hold, unbounded.
          plain(
            SlidingWindow.timeWindow(
              duration.input as Duration.Input,
              Math.max(1, Math.min(buckets, Math.floor(duration.n)))
            ),
            Infinity
          )
        )
      )
    case "Instance":
      return fc.constant(plain(kind.valid))
  }
}

const wrongTypes: ReadonlyArray<unknown> = [true, null, {}, [], () => 1, Symbol.for("x"), 10n]

/** Invalid values: each one breaks the kind's rule. `text` is set when a variable can say it. */
const invalid = (kind: Kind): fc.Arbitrary<Value> => {
  const types = fc.constantFrom(...wrongTypes).map((u) => plain(u))
  const numbers = (values: fc.Arbitrary<number>) => values.map((x) => plain(x, x, String(x)))
  switch (kind._tag) {
    case "Int":
      return fc.oneof(
        numbers(fc.integer({ min: kind.min - 1_000_000, max: kind.min - 1 })),
        numbers(fc.integer({ min: kind.max + 1, max: Number.MAX_SAFE_INTEGER })),
        numbers(
          fc.constantFrom(2 ** 53, 2 ** 31 - 1, 1e10, 1e20, 1e21, 1e308, -1e308, NaN, Infinity, -Infinity).filter((
            x
          ) => !(x >= kind.min && x <= kind.max))
        ),
        numbers(fc.double({ min: kind.min, max: kind.max, noNaN: true }).filter((x) => !Number.isInteger(x))),
        fc.constantFrom("five", "1e400", "0x10", "--1").map((s) => plain(s, 0, s)),
        fc.constant(plain(String(kind.min))),
        types
      )
    case "Real":
      return fc.oneof(
        numbers(
          fc.double({ max: kind.min, noNaN: true }).filter((x) =>
            x < kind.min || (!!kind.exclusiveMin && x === kind.min)
          )
        ),
        numbers(fc.double({ min: kind.max, noNaN: true }).filter((x) => x > kind.max)),
        numbers(fc.constantFrom(NaN, Infinity, -Infinity, 1e308)),
        fc.constantFrom("half", "1/2").map((s) => plain(s, 0, s)),
        types
      )
    case "Duration":
      return fc.oneof(
        numbers(fc.integer({ min: -1_000_000_000, max: -1 })),
        numbers(fc.integer({ min: maxMillis + 1, max: Number.MAX_SAFE_INTEGER })),
        numbers(fc.constantFrom(9e15, 1e308, NaN, Infinity, -Infinity, maxMillis + 0.5)),
        // Past an option's own bound, below every duration's.
        ...(kind.max < maxMillis
          ? [numbers(fc.integer({ min: kind.max + 1, max: maxMillis })), numbers(fc.constant(kind.max + 0.5))]
          : []),
        // Under a millisecond (and at least a nanosecond, the precision of a Duration).
        numbers(fc.double({ min: 1e-6, max: 0.999, noNaN: true })),
        fc.constantFrom(
          "soon",
          "-5s",
          "-PT5S",
          "1y",
          "P1M",
          "P1Y",
          "30 days",
          "25d",
          "P25D",
          "600h",
          "Infinity",
          "1 fortnight",
          "5 secs",
          "500us",
          "1 nanos",
          "PT",
          "P",
          "5 s s",
          "1e3ms"
        ).map((s) => plain(s, 0, s)),
        fc.constantFrom({ secs: 5 }, {}, { seconds: Infinity }, { seconds: 1e300 }, { minutes: "5" }, [1, 2, 3]).map((
          u
        ) => plain(u)),
        ...(kind.allowZero ? [] : [fc.constantFrom(0, "0s", "PT0S", "0 millis").map((u) => plain(u, 0, String(u)))]),
        fc.constantFrom(true, null, () => 1, Symbol.for("x")).map((u) => plain(u))
      )
    case "Boolean":
      return fc.oneof(
        fc.constantFrom("yes", "on", "1").map((s) => plain(s, 0, s)),
        fc.constantFrom(1, null, []).map((u) => plain(u))
      )
    case "Name":
      return fc.oneof(
        fc.constantFrom("   ", "\t").map((s) => plain(s, 0, s)),
        fc.integer({ min: Limits.maxNameLength + 1, max: 100_000 }).map((n) => plain("n".repeat(n), 0, "n".repeat(n))),
        fc.constantFrom("a\nb", "tab\there", "nul\u0000", "del\u007f").map((s) => plain(s, 0, s)),
        fc.constantFrom("", 5, null, {}).map((u) => plain(u))
      )
    case "Literal":
      return fc.oneof(
        fc.constantFrom("eventual", "SHARED ").map((s) => plain(s, 0, s)),
        fc.constantFrom(5, null).map((u) => plain(u))
      )
    case "Prefix":
      return fc.oneof(
        fc.integer({ min: Limits.maxPrefixLength + 1, max: 10_000 }).map((n) => plain("k".repeat(n), 0, "k".repeat(n))),
        fc.constantFrom("", 5, null).map((u) => plain(u))
      )
    case "Url":
      return fc.oneof(
        fc.constantFrom("http://cache:6379", "redis//x", "redis://").map((s) => plain(s, 0, s)),
        fc.constantFrom("", 5).map((u) => plain(u))
      )
    case "Path":
      return fc.constantFrom("health", "", 5, null).map((u) => plain(u))
    case "Window":
      return fc.oneof(
        invalid(Int(1, Limits.maxCountWindowSize)).map((v) => plain(SlidingWindow.countWindow(v.input as number))),
        invalid(Dur(false)).map((v) => plain(SlidingWindow.timeWindow(v.input as Duration.Input))),
        invalid(Int(1, Limits.maxTimeWindowBuckets)).map((v) =>
          plain(SlidingWindow.timeWindow("1 minute", v.input as number))
        ),
        fc.integer({ min: 2, max: Limits.maxTimeWindowBuckets }).map((b) => plain(SlidingWindow.timeWindow(b - 1, b))),
        fc.constantFrom(5, "1 minute", {}, { _tag: "SlidingWindow", size: 5 }, null).map((u) => plain(u))
      )
    case "Instance":
      return fc.constantFrom(...kind.wrong).map((u) => plain(u))
  }
}

// ---------------------------------------------------------------------------
// Constructors
// ---------------------------------------------------------------------------

type Fields = Readonly<Record<string, Kind>>
type Chosen = Record<string, Value>

interface Target {
  readonly name: string
  readonly tag: "CircuitBreakerConfigError" | "PolicyConfigError"
  readonly fields: Fields
  readonly base?: Readonly<Record<string, unknown>>
  /** Makes the rules that relate several valid fields hold. */
  readonly repair?: (chosen: Chosen) => void
  readonly make: (options: Record<string, unknown>) => Effect.Effect<unknown, unknown, Scope.Scope>
}

const breakerFields: Fields = {
  name: NameKind,
  consecutiveFailures: Int(1, Limits.maxCount),
  failureCount: Int(1, Limits.maxCount),
  failureRate: Real(0, 1),
  slowCallRate: Real(0, 1),
  slowCallDuration: Dur(false),
  window: { _tag: "Window" },
  minimumCalls: Int(1, Limits.maxCount),
  openDuration: Dur(true),
  maxOpenDuration: Dur(false),
  halfOpenPermits: Int(1, Limits.maxHalfOpenPermits),
  successThreshold: Int(1, Limits.maxHalfOpenPermits),
  halfOpenMaxWait: Dur(false),
  eventBufferSize: Int(1, Limits.maxEventBufferSize),
  metrics: Bool,
  logTransitions: Bool
}

const repairBreaker = (chosen: Chosen): void => {
  const permits = chosen.halfOpenPermits?.n ?? 1
  if (chosen.successThreshold !== undefined && chosen.successThreshold.n > permits) delete chosen.successThreshold
  const size = chosen.window?.n ?? 100
  for (const field of ["minimumCalls", "failureCount"]) {
    if (chosen[field] !== undefined && chosen[field].n > size) delete chosen[field]
  }
}

const repairBackoff = (chosen: Chosen): void => {
  if (chosen.maxDelay !== undefined && chosen.maxDelay.n < (chosen.baseDelay?.n ?? 100)) {
    chosen.baseDelay = chosen.maxDelay
  }
}

const backoffFields: Fields = {
  retries: Int(0, Limits.maxRetries),
  baseDelay: Dur(true),
  factor: Real(1, Limits.maxBackoffFactor),
  maxDelay: Dur(false),
  jitter: Bool
}

const storeFields: Fields = {
  url: { _tag: "Url" },
  prefix: { _tag: "Prefix" },
  mode: { _tag: "Literal", values: ["shared", "strict"] },
  flushInterval: Dur(false),
  resyncInterval: Dur(false),
  idleTimeToLive: Dur(false),
  probeLease: Dur(false),
  onUnavailable: { _tag: "Literal", values: ["allow", "reject"] },
  commandTimeout: Dur(false, Duration.toMillis(Limits.maxCommandTimeout))
}

const repairStore = (chosen: Chosen): void => {
  if ((chosen.idleTimeToLive?.n ?? 3_600_000) < 2 * Math.ceil(chosen.resyncInterval?.n ?? 1000)) {
    delete chosen.resyncInterval
    if (chosen.idleTimeToLive !== undefined && chosen.idleTimeToLive.n < 2000) delete chosen.idleTimeToLive
  }
}

const policies = Effect.runSync(Effect.all({
  retry: Retry.make(),
  timeout: Timeout.make({ duration: "1 second" }),
  bulkhead: Bulkhead.make(),
  fallback: Fallback.make({ value: 0 }),
  hedge: Hedge.make()
}))

const instance = (field: keyof typeof policies): Kind => ({
  _tag: "Instance",
  valid: policies[field],
  wrong: [
    ...Object.entries(policies).filter(([other]) => other !== field).map(([, policy]) => policy),
    3,
    "retry",
    {},
    null
  ]
})

const scopedLayer = <A, E>(layer: Layer.Layer<A, E>) => Layer.build(layer)

const targets: ReadonlyArray<Target> = [
  {
    name: "CircuitBreaker.make",
    tag: "CircuitBreakerConfigError",
    fields: breakerFields,
    repair: repairBreaker,
    make: (o) => CircuitBreaker.make(o as CircuitBreakerConfig.CircuitBreakerConfig)
  },
  {
    name: "CircuitBreaker.layer",
    tag: "CircuitBreakerConfigError",
    fields: breakerFields,
    repair: repairBreaker,
    make: (o) => scopedLayer(CircuitBreaker.layer(o as CircuitBreakerConfig.CircuitBreakerConfig))
  },
  {
    name: "CircuitBreakerConfig.decode",
    tag: "CircuitBreakerConfigError",
    fields: breakerFields,
    repair: repairBreaker,
    make: (o) => CircuitBreakerConfig.decode(o as CircuitBreakerConfig.CircuitBreakerConfig)
  },
  {
    name: "CircuitBreakerRegistry.make",
    tag: "CircuitBreakerConfigError",
    fields: { name: NameKind, maxBreakers: Int(1, Limits.maxBreakers), idleTimeToLive: Dur(false) },
    base: { config: { consecutiveFailures: 3 } },
    make: (o) => CircuitBreakerRegistry.make(o as CircuitBreakerRegistry.RegistryOptions)
  },
  {
    name: "CircuitBreakerRegistry.layer",
    tag: "CircuitBreakerConfigError",
    fields: { name: NameKind, maxBreakers: Int(1, Limits.maxBreakers), idleTimeToLive: Dur(false) },
    make: (o) => scopedLayer(CircuitBreakerRegistry.layer(o as CircuitBreakerRegistry.RegistryOptions))
  },
  {
    name: "Retry.make",
    tag: "PolicyConfigError",
    fields: {
      name: NameKind,
      ...backoffFields,
      waitForOpenCircuit: Bool,
      maxCircuitWait: Dur(true),
      metrics: Bool
    },
    repair: (chosen) => {
      repairBackoff(chosen)
      if (chosen.maxCircuitWait !== undefined) chosen.waitForOpenCircuit = plain(true, 1, "true")
    },
    make: (o) => Retry.make(o)
  },
  {
    name: "Retry.backoff",
    tag: "PolicyConfigError",
    fields: backoffFields,
    repair: repairBackoff,
    make: (o) => Retry.backoff(o)
  },
  {
    name: "Retry.makeBudget",
    tag: "PolicyConfigError",
    fields: {
      name: NameKind,
      ratio: Real(0, 1, true),
      minRetriesPerSecond: Real(0, Limits.maxMinRetriesPerSecond),
      window: Dur(false)
    },
    repair: (chosen) => {
      if (chosen.window !== undefined && chosen.window.n < 10) delete chosen.window
    },
    make: (o) => Retry.makeBudget(o)
  },
  {
    name: "Timeout.make",
    tag: "PolicyConfigError",
    fields: { name: NameKind, duration: Dur(false), metrics: Bool },
    base: { duration: "1 second" },
    make: (o) => Timeout.make(o as unknown as Timeout.TimeoutOptions)
  },
  {
    name: "Bulkhead.make",
    tag: "PolicyConfigError",
    fields: {
      name: NameKind,
      maxConcurrent: Int(1, Limits.maxConcurrent),
      maxQueued: Int(0, Limits.maxQueued),
      maxQueueWait: Dur(false),
      metrics: Bool
    },
    repair: (chosen) => {
      if (chosen.maxQueueWait !== undefined && (chosen.maxQueued?.n ?? 0) === 0) chosen.maxQueued = plain(1, 1, "1")
    },
    make: (o) => Bulkhead.make(o)
  },
  {
    name: "Bulkhead.layer",
    tag: "PolicyConfigError",
    fields: { maxConcurrent: Int(1, Limits.maxConcurrent), maxQueued: Int(0, Limits.maxQueued) },
    make: (o) => scopedLayer(Bulkhead.layer(o))
  },
  {
    name: "Fallback.make",
    tag: "PolicyConfigError",
    fields: { name: NameKind, metrics: Bool },
    base: { value: "fallback" },
    make: (o) => Fallback.make(o as { readonly value: unknown })
  },
  {
    name: "Fallback.lastKnownGood",
    tag: "PolicyConfigError",
    fields: { name: NameKind, maxEntries: Int(1, Limits.maxCacheEntries), ttl: Dur(false), metrics: Bool },
    make: (o) => Fallback.lastKnownGood()(o)
  },
  {
    name: "Hedge.make",
    tag: "PolicyConfigError",
    fields: { name: NameKind, delay: Dur(true), attempts: Int(1, Limits.maxHedgeAttempts), metrics: Bool },
    make: (o) => Hedge.make(o)
  },
  {
    name: "Policy.make",
    tag: "PolicyConfigError",
    fields: {
      name: NameKind,
      retry: instance("retry"),
      timeout: instance("timeout"),
      bulkhead: instance("bulkhead"),
      fallback: instance("fallback"),
      hedge: instance("hedge")
    },
    make: (o) => Policy.make(o as Policy.PolicyOptions)
  },
  {
    name: "Health.layerHttp",
    tag: "PolicyConfigError",
    fields: { degradedStatus: Int(200, 599), path: { _tag: "Path" } },
    base: { sources: [] },
    make: (o) =>
      Layer.build(Health.layerHttp(o as unknown as Health.HttpOptions<[]>)).pipe(Effect.provide(HttpRouter.layer))
  },
  {
    name: "RedisCircuitStore options",
    tag: "PolicyConfigError",
    fields: storeFields,
    repair: repairStore,
    make: (o) => decodeStoreOptions(o)
  }
]

/** Runs a constructor: its exit, with metrics kept out of the global registry. */
const run = (effect: Effect.Effect<unknown, unknown, Scope.Scope>): Exit.Exit<unknown, unknown> =>
  Effect.runSyncExit(effect.pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, new Map())))

/** The typed configuration error of a failed exit; anything else (a defect, a success) fails the test. */
const configError = (exit: Exit.Exit<unknown, unknown>, tag: string) => {
  if (Exit.isSuccess(exit)) throw new Error("expected a configuration error, the constructor succeeded")
  const reasons = exit.cause.reasons
  if (reasons.length !== 1 || reasons[0]!._tag !== "Fail") {
    throw new Error(`expected one typed failure, got ${String(exit.cause)}`)
  }
  const error = reasons[0]!.error as {
    readonly _tag: string
    readonly issues: ReadonlyArray<{ field: string; rule: string }>
  }
  expect(error._tag).toBe(tag)
  return error
}

const expectSuccess = (exit: Exit.Exit<unknown, unknown>) => {
  if (Exit.isFailure(exit)) throw new Error(`expected the constructor to succeed: ${String(exit.cause)}`)
}

const rulePattern = /^(must|is not|cannot|has no effect|needs)/

const expectNamed = (
  error: { readonly issues: ReadonlyArray<{ field: string; rule: string }> },
  field: string
) => {
  // A window's issue may name its part (`window.buckets`).
  const issue = error.issues.find((i) => i.field === field || i.field.startsWith(`${field}.`))
  if (issue === undefined) throw new Error(`no issue names ${field}: ${JSON.stringify(error.issues)}`)
  expect(issue.rule).toMatch(rulePattern)
}

/** Some of `fields` with valid values, the rules between them made to hold. */
const validChoice = (target: Target): fc.Arbitrary<Chosen> =>
  fc.record(
    Object.fromEntries(Object.entries(target.fields).map(([field, kind]) => [field, valid(kind)])),
    { requiredKeys: [] }
  ).map((record) => {
    const chosen: Chosen = { ...record } as Chosen
    target.repair?.(chosen)
    return chosen
  })

const optionsOf = (target: Target, chosen: Chosen): Record<string, unknown> => ({
  ...target.base,
  ...Object.fromEntries(Object.entries(chosen).map(([field, value]) => [field, value.input]))
})

/** One to three fields broken, each with an invalid value, over valid others. */
const invalidChoice = (target: Target) =>
  fc.tuple(
    validChoice(target),
    fc.uniqueArray(fc.constantFrom(...Object.keys(target.fields)), { minLength: 1, maxLength: 3 }).chain((broken) =>
      fc.tuple(fc.constant(broken), fc.tuple(...broken.map((field) => invalid(target.fields[field]!))))
    )
  ).map(([chosen, [broken, values]]) => {
    const options = optionsOf(target, chosen)
    broken.forEach((field, i) => {
      options[field] = values[i]!.input
    })
    return { options, broken }
  })

const runs = { numRuns: 60 }

describe("every public constructor, fuzzed", () => {
  describe.each(targets)("$name", (target) => {
    it("constructs from every valid input", () => {
      fc.assert(
        fc.property(validChoice(target), (chosen) => {
          expectSuccess(run(target.make(optionsOf(target, chosen))))
        }),
        runs
      )
    })

    it("refuses every invalid input with its typed error, naming each broken field and its rule", () => {
      fc.assert(
        fc.property(invalidChoice(target), ({ broken, options }) => {
          const error = configError(run(target.make(options)), target.tag)
          for (const field of broken) expectNamed(error, field)
        }),
        runs
      )
    })

    it("refuses unknown options and options that are not an object", () => {
      fc.assert(
        fc.property(
          fc.string({ minLength: 1, maxLength: 12 }).filter((key) =>
            !(key in target.fields) && !(key in (target.base ?? {})) && key !== "__proto__" && key !== "config" &&
            key !== "value" && key !== "orElse" && key !== "on" && key !== "classify" && key !== "schedule" &&
            key !== "retryOn" && key !== "budget" && key !== "breaker" && key !== "name" && key !== "metrics"
          ),
          fc.anything(),
          (key, value) => {
            const error = configError(run(target.make({ ...target.base, [key]: value })), target.tag)
            expectNamed(error, key)
          }
        ),
        runs
      )
      for (const options of [5, "options", null, [1, 2]]) {
        const error = configError(run(target.make(options as never)), target.tag)
        expect(error.issues.length).toBeGreaterThan(0)
      }
    })
  })

  it("makeResolved checks the bounds of a configuration changed by hand", () => {
    const resolved = Effect.runSync(CircuitBreakerConfig.decode({ name: "api" }))
    fc.assert(
      fc.property(invalid({ _tag: "Window" }), (window) => {
        const exit = run(CircuitBreaker.makeResolved({ ...resolved, window: window.input as never }))
        expectNamed(configError(exit, "CircuitBreakerConfigError"), "window")
      }),
      runs
    )
    const counts = fc.oneof(
      ...Object.entries(breakerFields)
        .filter(([, kind]) => kind._tag === "Int")
        .map(([field, kind]) => invalid(kind).map((value) => [field, value.input] as const))
    )
    fc.assert(
      fc.property(counts, ([field, value]) => {
        const exit = run(CircuitBreaker.makeResolved({ ...resolved, [field]: value }))
        expectNamed(configError(exit, "CircuitBreakerConfigError"), field)
      }),
      runs
    )
    expectSuccess(run(CircuitBreaker.makeResolved({ ...resolved, name: "api-eu" })))
  })
})

// ---------------------------------------------------------------------------
// Environment variables
// ---------------------------------------------------------------------------

const withEnv = (env: Record<string, string>) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

const suffix = (field: string) => field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()

const prefix = "PAYMENTS_BREAKER"

/** The breaker's variables: every option but the window, which three variables describe. */
const breakerVariables: Fields = {
  ...Object.fromEntries(
    Object.entries(breakerFields)
      .filter(([field]) => field !== "window")
      .map(([field, kind]) => [`${prefix}_${suffix(field)}`, kind])
  ),
  [`${prefix}_WINDOW_SIZE`]: Int(1, Limits.maxCountWindowSize),
  [`${prefix}_WINDOW_DURATION`]: Dur(false),
  [`${prefix}_WINDOW_BUCKETS`]: Int(1, Limits.maxTimeWindowBuckets)
}

const v = (field: string) => `${prefix}_${field}`

/**
 * The rules between variables: a count window or a time window, buckets
 * only with a duration and at least 1 ms wide, and the breaker's own rules.
 * `keep` names the variables that must stay (the broken ones).
 */
const repairBreakerVariables = (chosen: Chosen, keep: ReadonlySet<string> = new Set()): void => {
  const drop = (name: string) => {
    if (!keep.has(name)) delete chosen[name]
  }
  if (chosen[v("WINDOW_SIZE")] !== undefined && chosen[v("WINDOW_DURATION")] !== undefined) {
    drop(keep.has(v("WINDOW_SIZE")) ? v("WINDOW_DURATION") : v("WINDOW_SIZE"))
  }
  if (chosen[v("WINDOW_BUCKETS")] !== undefined && chosen[v("WINDOW_DURATION")] === undefined) {
    chosen[v("WINDOW_DURATION")] = plain("1 minute", 60_000, "1m")
    drop(v("WINDOW_SIZE"))
  }
  const duration = chosen[v("WINDOW_DURATION")]
  const buckets = chosen[v("WINDOW_BUCKETS")]
  if (duration !== undefined && !keep.has(v("WINDOW_DURATION")) && (buckets?.n ?? 10) > duration.n) {
    drop(v("WINDOW_BUCKETS"))
    if (duration.n < 10) drop(v("WINDOW_DURATION"))
  }
  const window = chosen[v("WINDOW_SIZE")]?.n ?? (chosen[v("WINDOW_DURATION")] === undefined ? 100 : Infinity)
  for (const name of [v("MINIMUM_CALLS"), v("FAILURE_COUNT")]) {
    if ((chosen[name]?.n ?? 0) > window) drop(name)
  }
  if ((chosen[v("SUCCESS_THRESHOLD")]?.n ?? 0) > (chosen[v("HALF_OPEN_PERMITS")]?.n ?? 1)) drop(v("SUCCESS_THRESHOLD"))
}

const storeVariables: Fields = Object.fromEntries(
  Object.entries(RedisCircuitStore.variables).map(([field, name]) => [name, storeFields[field]!])
)

const repairStoreVariables = (chosen: Chosen, keep: ReadonlySet<string> = new Set()): void => {
  const idle = RedisCircuitStore.variables.idleTimeToLive
  const resync = RedisCircuitStore.variables.resyncInterval
  if ((chosen[idle]?.n ?? 3_600_000) < 2 * Math.ceil(chosen[resync]?.n ?? 1000)) {
    if (!keep.has(resync)) delete chosen[resync]
    if (!keep.has(idle) && (chosen[idle]?.n ?? Infinity) < 2000) delete chosen[idle]
  }
}

interface EnvTarget {
  readonly name: string
  readonly tag: "CircuitBreakerConfigError" | "PolicyConfigError"
  readonly prefix: string
  readonly variables: Fields
  readonly repair: (chosen: Chosen, keep?: ReadonlySet<string>) => void
  readonly read: Effect.Effect<unknown, unknown>
}

const envTargets: ReadonlyArray<EnvTarget> = [
  {
    name: "CircuitBreakerConfig.fromConfig",
    tag: "CircuitBreakerConfigError",
    prefix,
    variables: breakerVariables,
    repair: repairBreakerVariables,
    read: CircuitBreakerConfig.fromConfig(prefix)
  },
  {
    name: "RedisCircuitStore.fromConfig",
    tag: "PolicyConfigError",
    prefix: "RESILIENCE_REDIS",
    variables: storeVariables,
    repair: repairStoreVariables,
    read: RedisCircuitStore.fromConfig()
  }
]

const texts = (chosen: Chosen): Record<string, string> =>
  Object.fromEntries(
    Object.entries(chosen).flatMap(([name, value]) => value.text === undefined ? [] : [[name, value.text]])
  )

const validVariables = (target: EnvTarget): fc.Arbitrary<Chosen> =>
  fc.record(
    Object.fromEntries(Object.entries(target.variables).map(([name, kind]) => [name, valid(kind)])),
    { requiredKeys: [] }
  ).map((record) => {
    const chosen = { ...record } as Chosen
    target.repair(chosen)
    return chosen
  })

/** Values a variable can hold (text) that break its rule; "" is an unset variable, not a value. */
const invalidText = (kind: Kind) => invalid(kind).filter((value) => value.text !== undefined && value.text !== "")

const knownSuffixes = (target: EnvTarget) =>
  Object.keys(target.variables)
    .filter((name) => name.startsWith(`${target.prefix}_`))
    .map((name) => name.slice(target.prefix.length + 1))

describe("every environment variable, fuzzed", () => {
  describe.each(envTargets)("$name", (target) => {
    it("reads every valid set of variables, in the forms operators write", () => {
      fc.assert(
        fc.property(validVariables(target), (chosen) => {
          expectSuccess(run(target.read.pipe(withEnv(texts(chosen)))))
        }),
        runs
      )
    })

    it("refuses every invalid variable with the typed error naming the variable and its rule", () => {
      const names = Object.keys(target.variables)
      fc.assert(
        fc.property(
          validVariables(target),
          fc.uniqueArray(fc.constantFrom(...names), { minLength: 1, maxLength: 3 }).chain((broken) =>
            fc.tuple(fc.constant(broken), fc.tuple(...broken.map((name) => invalidText(target.variables[name]!))))
          ),
          (chosen, [broken, values]) => {
            broken.forEach((name, i) => {
              chosen[name] = values[i]!
            })
            target.repair(chosen, new Set(broken))
            const error = configError(run(target.read.pipe(withEnv(texts(chosen)))), target.tag)
            for (const name of broken) expectNamed(error, name)
          }
        ),
        runs
      )
    })

    it("refuses a variable under its prefix that is no option, naming it", () => {
      const known = knownSuffixes(target)
      fc.assert(
        fc.property(
          fc.stringMatching(/^[A-Z][A-Z0-9]{0,8}(_[A-Z0-9]{1,8}){0,3}$/).filter((rest) =>
            !known.includes(rest) && !known.some((option) => rest.endsWith(`_${option}`))
          ),
          fc.string({ minLength: 1, maxLength: 8 }),
          (rest, value) => {
            const name = `${target.prefix}_${rest}`
            const error = configError(run(target.read.pipe(withEnv({ [name]: value }))), target.tag)
            expectNamed(error, name)
          }
        ),
        runs
      )
    })

    it("suggests the option a misspelt variable was meant to be", () => {
      const known = knownSuffixes(target)
      fc.assert(
        fc.property(fc.constantFrom(...known), fc.nat(), fc.constantFrom("X", "S", ""), (option, at, letter) => {
          // One letter changed, dropped or added: the suggestion is the option.
          const i = at % option.length
          const typo = option.slice(0, i) + letter + option.slice(i + 1)
          fc.pre(!known.includes(typo) && typo.length > 0 && !typo.startsWith("_") && !typo.endsWith("_"))
          fc.pre(!known.some((other) => typo.endsWith(`_${other}`)))
          const name = `${target.prefix}_${typo}`
          const error = configError(run(target.read.pipe(withEnv({ [name]: "1" }))), target.tag)
          const issue = error.issues.find((i) => i.field === name)
          expect(issue?.rule).toMatch(/did you mean/)
        }),
        runs
      )
    })
  })

  it("a prefix leaves alone the variables of a longer prefix", () => {
    const env = {
      PAYMENTS_FAILURE_RATE: "0.5",
      PAYMENTS_BREAKER_FAILURE_RATE: "0.25",
      PAYMENTS_BREAKER_WINDOW_SIZE: "20"
    }
    const outer = run(CircuitBreakerConfig.fromConfig("PAYMENTS").pipe(withEnv(env)))
    const inner = run(CircuitBreakerConfig.fromConfig("PAYMENTS_BREAKER").pipe(withEnv(env)))
    expectSuccess(outer)
    expectSuccess(inner)
  })
})

// ---------------------------------------------------------------------------
// Durations: one parser for code and variables
// ---------------------------------------------------------------------------

describe("durations written as text", () => {
  it("code and variables read the same forms to the same duration", () => {
    fc.assert(
      fc.property(validMillis(false, maxMillis), (m) => {
        for (const [input, text] of durationForms(m)) {
          const fromCode = Effect.runSync(Timeout.make({ duration: input as Duration.Input }))
          const fromEnv = Effect.runSync(
            CircuitBreakerConfig.fromConfig("P").pipe(withEnv({ P_SLOW_CALL_DURATION: text, P_SLOW_CALL_RATE: "0.5" }))
          )
          expect(Duration.toMillis(fromCode.duration)).toBeCloseTo(m, 5)
          expect(Duration.toMillis(fromEnv.slowCallDuration!)).toBeCloseTo(m, 5)
        }
      }),
      { numRuns: 30 }
    )
  })

  it.each([
    ["30s", 30_000],
    ["1m", 60_000],
    ["250ms", 250],
    ["1h", 3_600_000],
    ["1.5s", 1500],
    ["1m30s", 90_000],
    ["1h 30m", 5_400_000],
    ["2d", 172_800_000],
    ["1w", 604_800_000],
    ["PT30S", 30_000],
    ["PT1M30S", 90_000],
    ["pt0.5s", 500],
    ["PT0,25S", 250],
    ["P1DT12H", 129_600_000],
    ["P2W", 1_209_600_000],
    ["30 seconds", 30_000],
    ["500 millis", 500],
    ["250", 250],
    [" 1.5 ", 1.5]
  ])("%s is %d ms", (text, millis) => {
    const timeout = Effect.runSync(Timeout.make({ duration: text as Duration.Input }))
    expect(Duration.toMillis(timeout.duration)).toBe(millis)
  })
})
