/**
 * What the machine running the tests has: programs on the `PATH`, and
 * whether `CI` is set (where a missing program fails the run rather than
 * skipping the suites that need it).
 */
import { execFileSync } from "node:child_process"

/** The path of a program on the `PATH`, if the machine has it. */
export const which = (program: string): string | undefined => {
  try {
    return execFileSync("sh", ["-c", `command -v ${program}`], { encoding: "utf8" }).trim() || undefined
  } catch {
    return undefined
  }
}

/** Whether `CI` is set: a missing program fails the run there, instead of skipping suites. */
export const inCI = process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false"
