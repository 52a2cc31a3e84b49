/**
 * One broken rule of a configuration: the field and what it must be.
 *
 * Every constructor of the library that takes options (circuit breakers and
 * the policies beside them) validates them with an `effect/Schema` and
 * reports each broken rule as a `ConfigIssue` inside its typed configuration
 * error, so a person reading the error knows which field to fix and how.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * One broken rule: the field (a dotted path such as `window.size`) and what
 * it must be.
 *
 * @example
 * ```ts
 * import { ConfigIssue } from "effect-resilience"
 *
 * const issue = new ConfigIssue.ConfigIssue({ field: "maxConcurrent", rule: "must be an integer between 1 and 100000 (got 0)" })
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ConfigIssue extends Schema.Class<ConfigIssue>("ConfigIssue")({
  field: Schema.String,
  rule: Schema.String
}) {}
