/**
 * The resolved configurations the library validated itself.
 *
 * `CircuitBreaker.makeResolved` takes a `ResolvedConfig`, which a program
 * may also change by hand (`{ ...config, window }`). One that
 * `CircuitBreakerConfig.decode` made, or that a registry renamed, is used as
 * it is; any other has its bounds checked again (`checkResolved`), so that
 * no breaker is made from a window it cannot allocate, and the breakers a
 * registry makes per key pay for no second validation.
 *
 * @internal
 */

const validated = new WeakSet<object>()

/** Remembers that `config` was validated, and returns it. @internal */
export const markValidated = <A extends object>(config: A): A => {
  validated.add(config)
  return config
}

/** Whether the library validated `config`. @internal */
export const isValidated = (config: object): boolean => validated.has(config)
