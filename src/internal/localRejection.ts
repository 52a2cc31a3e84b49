/**
 * The library's own back-pressure: a full bulkhead, an adaptive limit
 * reached, a rate limit exhausted. Such a rejection says nothing about the
 * dependency's health (a breaker ignores it) and retrying it at once only
 * adds the load it shed (a retry or a hedge does not repeat it).
 *
 * @internal
 */
import { isBulkheadFullError } from "../BulkheadFullError.js"
import { isConcurrencyLimitExceededError } from "../ConcurrencyLimitExceededError.js"
import { isRateLimitExceededError } from "../RateLimitExceededError.js"

/** Whether an error is one of the library's local rejections (by type id: any copy of the library). @internal */
export const isLocalRejection = (error: unknown): boolean =>
  isBulkheadFullError(error) || isConcurrencyLimitExceededError(error) || isRateLimitExceededError(error)
