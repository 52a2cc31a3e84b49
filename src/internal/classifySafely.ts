/**
 * Classifying a finished call, safely: the classifier is the caller's code,
 * and a bug in it (a throw, or an answer that is not an outcome) must never
 * corrupt the circuit.
 *
 * @internal
 */
import type { Exit } from "effect"
import { Duration } from "effect"
import type { Classifier, HintedFailure, Outcome } from "../Classifier.js"
import { isHintedFailure } from "../Classifier.js"
import { textOf } from "./failures.js"

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
): Outcome | HintedFailure | ClassifierBug => {
  let outcome: unknown
  try {
    outcome = classify(exit)
  } catch (thrown) {
    return new ClassifierBug(thrown)
  }
  if (outcome === "success" || outcome === "failure" || outcome === "ignored") return outcome
  if (isHintedFailure(outcome)) {
    const openFor: unknown = outcome.openFor
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
 * nothing, a hinted failure as a failure.
 *
 * @internal
 */
export const outcomeOf = (classified: Outcome | HintedFailure | ClassifierBug): Outcome =>
  typeof classified === "string" ? classified : classified instanceof ClassifierBug ? "ignored" : "failure"

/**
 * The open-duration hint of a classification, in whole milliseconds, if it
 * carries one.
 *
 * @internal
 */
export const openHintOf = (classified: Outcome | HintedFailure | ClassifierBug): number | undefined =>
  typeof classified === "string" || classified instanceof ClassifierBug
    ? undefined
    : Math.ceil(Duration.toMillis(classified.openFor))
