/**
 * The mark of a bulkhead instance, shared by the `Bulkhead` module, which
 * makes bulkheads, and the policy composition (`wrap.ts`), which tells a
 * bulkhead from the other policies it is given.
 *
 * @internal
 */
import type { Bulkhead } from "../Bulkhead.js"

/** @internal */
export const BulkheadTypeId = "~effect-resilience/Bulkhead" as const

/** @internal */
export const isBulkhead = (u: unknown): u is Bulkhead => typeof u === "object" && u !== null && BulkheadTypeId in u
