/**
 * The demo service's dashboard in a real browser (headless Chromium): what a newcomer sees after
 * `npm start`. The demo runs in this process on a quick fault script (a burst of 500s at the
 * inventory from 1 s to 2.2 s, a hanging catalog meanwhile); the page must list the demo's circuits
 * and show the inventory's circuit trip and recover as it happens. Real time is needed: the demo's
 * upstreams and service answer on real sockets, which no TestClock moves.
 */
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import type { Page } from "playwright-core"
import type { Running } from "../../examples/service/demo.js"
import { runDemo } from "../../examples/service/demo.js"
import { quickConfig } from "../demo/quickScript.js"
import { chromiumAvailable, launch } from "./chromium.js"

/** Screenshots for the docs are rewritten only on request, so a normal run leaves the tree alone. */
const updateScreenshots = process.env.UPDATE_SCREENSHOTS === "1"

const config = quickConfig([], {
  forMillis: 6_000, // real clock: long enough for a trip and a recovery
  statusEvery: "10 seconds",
  print: () => Effect.void
})

const stateOf = (page: Page, name: string) =>
  page.$eval(
    `.rows .row:not([hidden]) .name[aria-label^="${name},"]`,
    (el) => el.parentElement?.querySelector(".badge")?.textContent ?? undefined
  )

/** Waits until the page shows `name` in `state`. */
const shows = (page: Page, name: string, state: string, timeoutMillis: number) =>
  page.waitForFunction(
    ([name, state]) =>
      document.querySelector(`.rows .row:not([hidden]) .name[aria-label^="${name},"]`)?.parentElement
        ?.querySelector(".badge")?.textContent === state,
    [name, state] as const,
    { timeout: timeoutMillis } // real clock: the fault script runs in real time
  )

describe.skipIf(!chromiumAvailable)("the demo's dashboard in Chromium", () => {
  it.live(
    "lists the demo's circuits and shows the inventory's trip and recovery as they happen",
    () =>
      Effect.gen(function*() {
        const browser = yield* Effect.acquireRelease(
          Effect.promise(launch),
          (browser) => Effect.promise(() => browser.close())
        )
        const started = yield* Deferred.make<Running>()
        const demo = yield* runDemo(config, (running) => Deferred.succeed(started, running).pipe(Effect.asVoid)).pipe(
          Effect.forkChild
        )
        const running = yield* Deferred.await(started)
        const url = `${running.instances[0]!.url}/dashboard`
        const seen = yield* Effect.promise(async () => {
          const page = await browser.newPage({ viewport: { width: 1360, height: 760 } })
          const errors: Array<string> = []
          page.on("console", (message) => {
            if (message.type() === "error") errors.push(message.text())
          })
          page.on("pageerror", (error) => errors.push(error.message))
          await page.goto(url)
          await page.waitForSelector("body[data-rendered]", { timeout: 5_000 }) // real clock: a real page load
          const names = await page.$$eval(".rows .row:not([hidden]) .name", (els) => els.map((e) => e.textContent))
          const before = await stateOf(page, "inventory")
          await shows(page, "inventory", "Open", 4_000)
          if (updateScreenshots) {
            // The inventory's circuit open during the burst, as a newcomer sees it after `npm start`.
            await page.click(`.rows .row:not([hidden]) .name[aria-label^="inventory,"]`)
            await page.screenshot({ path: "docs/images/demo-dashboard.png" })
          }
          await shows(page, "inventory", "Closed", 5_000)
          return { names, before, errors }
        })
        expect(new Set(seen.names)).toEqual(new Set(["inventory", "catalog", "search"]))
        expect(seen.before).toBe("Closed")
        expect(seen.errors).toEqual([])
        yield* Fiber.interrupt(demo)
      }).pipe(Effect.scoped),
    30_000
  )
})
