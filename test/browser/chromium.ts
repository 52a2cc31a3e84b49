/**
 * Headless Chromium for the browser suites: Debian's `chromium` package,
 * driven by `playwright-core` (which never downloads a browser of its own).
 *
 * Where the binary is missing, `chromiumAvailable` is false: suites skip with
 * one notice saying how to install it — unless `CI` is set, where a missing
 * binary fails the run (`.ci/run` installs it). The flags keep Chromium off
 * the network: on a closed machine it would otherwise wait on refused
 * connections (component updates, sync, QUIC).
 */
import { existsSync } from "node:fs"
import type { Browser } from "playwright-core"
import { chromium } from "playwright-core"
import { inCI, which } from "../machine.js"

/** The Chromium binary, if the machine has one. */
export const chromiumBinary = process.env.CHROMIUM_PATH ??
  (existsSync("/usr/bin/chromium") ? "/usr/bin/chromium" : which("chromium") ?? which("chromium-browser"))

/** Whether the browser suites can run here. */
export const chromiumAvailable = chromiumBinary !== undefined

const installHint = "install it with `apt-get install chromium` (Debian), or run `.ci/run`, which installs it"

if (!chromiumAvailable) {
  if (inCI) throw new Error(`chromium is not installed, and CI is set: ${installHint}`)
  console.warn(`[effect-resilience] chromium not found: the browser test suites are skipped; ${installHint}.`)
}

const flags = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

/** A headless browser; Playwright gives it a fresh profile in a temporary folder, removed when it closes. */
export const launch = (): Promise<Browser> =>
  chromium.launch({ executablePath: chromiumBinary!, args: flags, headless: true })
