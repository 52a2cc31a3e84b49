/**
 * Classifying a finished call, safely: the classifier is the caller's code,
 * and a bug in it (a throw, or an answer that is not an outcome) must never
 * corrupt the circuit.
 *
 * @internal
 */
import { Duration, Exit } from "effect"
import type { Classifier, FailureAs, HintedFailure, Outcome } from "../Classifier.js"
import { isFailureAs, isHintedFailure } from "../Classifier.js"
import { textOf } from "./failures.js"

/** A classification: an outcome, a failure with more to it, or a bug. */
type Classified = Outcome | HintedFailure | FailureAs | ClassifierBug

/**
 * A bug in the caller's classifier: what it threw, or a `TypeError` saying
 * what it answered instead of an outcome.
 *
 * @internal
 */
export class ClassifierBug {
  constructor(readonly value: unknown) {}
}

/**
 * Classifies `exit`. A classifier that throws, or answers anything but an
 * outcome (JavaScript callers have no types to stop `"Success"`), is a bug:
 * the outcome counts as nothing (a probe gives its permit back) and
 * the breaker decides what the caller sees. Allocates only on a bug.
 *
 * @internal
 */
export const classifySafely = <A, E>(
  classify: Classifier<A, E>,
  exit: Exit.Exit<A, E>
): Classified => {
  let outcome: unknown
  try {
    outcome = classify(exit)
  } catch (thrown) {
    return new ClassifierBug(thrown)
  }
  if (outcome === "success" || outcome === "failure" || outcome === "ignored") return outcome
  if (isHintedFailure(outcome) || isFailureAs(outcome)) {
    const openFor: unknown = outcome.openFor
    // A failure recorded as an error may carry no hint; a hinted one must carry a good one.
    if (openFor === undefined && isFailureAs(outcome)) return outcome
    if (Duration.isDuration(openFor) && Duration.isFinite(openFor) && !Duration.isNegative(openFor)) return outcome
    return new ClassifierBug(
      new TypeError(`a classifier answered a failure whose open hint is ${textOf(openFor)}, not a finite duration`)
    )
  }
  return new ClassifierBug(
    new TypeError(`a classifier answered ${textOf(outcome)}, not "success", "failure" or "ignored"`)
  )
}

/**
 * The outcome a classification is recorded as: a classifier bug counts as
 * nothing, a hinted failure (or one recorded as an error) as a failure.
 *
 * @internal
 */
export const outcomeOf = (classified: Classified): Outcome =>
  typeof classified === "string" ? classified : classified instanceof ClassifierBug ? "ignored" : "failure"

/**
 * The open-duration hint of a classification, in whole milliseconds, if it
 * carries one.
 *
 * @internal
 */
export const openHintOf = (classified: Classified): number | undefined =>
  typeof classified === "string" || classified instanceof ClassifierBug || classified.openFor === undefined
    ? undefined
    : Math.ceil(Duration.toMillis(classified.openFor))

/**
 * What a classified call is recorded as, should it be a failure: the error
 * a `FailureAs` names, or the call's own exit.
 *
 * @internal
 */
export const recordedExit = (classified: Classified, exit: Exit.Exit<unknown, unknown>): Exit.Exit<unknown, unknown> =>
  typeof classified === "object" && isFailureAs(classified) ? Exit.fail(classified.error) : exit
