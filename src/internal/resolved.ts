/**
 * The resolved configurations the library validated itself.
 *
 * `CircuitBreaker.makeResolved` takes a `ResolvedConfig`. One that
 * `CircuitBreakerConfig.decode` made, or that a registry made for a key, is
 * frozen — its window and metrics options too — so a change in place fails
 * where it is made, and it is used as it is: the breakers a registry makes
 * per key pay for no second validation. Any other configuration (a copy
 * changed by hand, `{ ...config, window }`) has its bounds checked again
 * (`checkResolved`), so that no breaker is made from a window it cannot
 * allocate.
 *
 * @internal
 */

const validated = new WeakSet<object>()

/** Freezes `config` (its window and metrics options too), remembers that it was validated, and returns it. @internal */
export const markValidated = <A extends { readonly window: object; readonly metrics?: unknown }>(config: A): A => {
  Object.freeze(config.window)
  if (typeof config.metrics === "object" && config.metrics !== null) Object.freeze(config.metrics)
  validated.add(Object.freeze(config))
  return config
}

/** Whether the library validated `config`. @internal */
export const isValidated = (config: object): boolean => validated.has(config)
