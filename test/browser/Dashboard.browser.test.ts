/**
 * The dashboard in a real browser (headless Chromium), against a real
 * localhost service: the page a person opens, used the way a person uses it.
 *
 * Screenshots (light, dark, a tripped circuit) are written to docs/images/
 * only with UPDATE_SCREENSHOTS=1, so a normal run leaves the tree alone.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { mkdirSync } from "node:fs"
import type { Browser, ConsoleMessage, Page } from "playwright-core"
import { freePort } from "../redis/server.js"
import { chromiumAvailable, launch } from "./chromium.js"
import type { Service } from "./server.js"
import { adminToken, startService } from "./server.js"

const updateScreenshots = process.env.UPDATE_SCREENSHOTS === "1"
const breakers = ["payments", "inventory", "search", "recommendations"]

/** A page whose console errors and uncaught exceptions are collected. */
const open = async (browser: Browser, url: string, colorScheme: "light" | "dark" = "light") => {
  const context = await browser.newContext({ colorScheme, viewport: { width: 1360, height: 760 } })
  const page = await context.newPage()
  const errors: Array<string> = []
  page.on("console", (message: ConsoleMessage) => {
    if (message.type() === "error") errors.push(message.text())
  })
  page.on("pageerror", (error) => errors.push(error.message))
  await page.goto(url)
  await page.waitForSelector("body[data-rendered]", { timeout: 5_000 })
  return { page, errors, close: () => context.close() }
}

const rowNames = (page: Page) => page.$$eval(".rows .row:not([hidden]) .name", (els) => els.map((e) => e.textContent))
const stateOf = (page: Page, name: string) =>
  page.$eval(
    `.rows .row:not([hidden]) .name[aria-label^="${name},"]`,
    (el) => el.parentElement?.querySelector(".badge")?.textContent
  )

describe.skipIf(!chromiumAvailable)("Dashboard in Chromium", () => {
  let browser: Browser
  let service: Service
  let port: number

  beforeAll(async () => {
    port = await freePort()
    ;[browser, service] = await Promise.all([
      launch(),
      startService({ port, breakers, keys: 3, tripped: ["inventory"], traffic: true })
    ])
  })
  afterAll(async () => {
    await service?.stop()
    await browser?.close()
  })

  it("loads with no console errors and lists every circuit, most severe first", async () => {
    const { close, errors, page } = await open(browser, `${service.url}/dashboard`)
    const names = await rowNames(page)
    expect(new Set(names)).toEqual(new Set([...breakers, "tenant-0000", "tenant-0001", "tenant-0002"]))
    expect(names[0]).toBe("inventory") // open: first
    expect(await stateOf(page, "inventory")).toBe("Open")
    expect(errors).toEqual([])
    await close()
  })

  it("shows the policies beside the selected circuit, an adaptive limit's figures among them", async () => {
    const { close, errors, page } = await open(browser, `${service.url}/dashboard`)
    await page.click(`.name[aria-label^="payments,"]`)
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll(".detail .policies li")].some((li) =>
          li.textContent?.startsWith(`AdaptiveLimit "payments": limit 12 (1–50), in flight 0, drops 0`)
        ),
      undefined,
      { timeout: 2_000 }
    )
    expect(errors).toEqual([])
    await close()
  })

  it("shows a transition forced through the admin route within 1 s", async () => {
    const { close, errors, page } = await open(browser, `${service.url}/dashboard`)
    expect(await stateOf(page, "search")).toBe("Closed")
    const started = Date.now()
    const response = await fetch(`${service.url}/admin/circuits/search/force-open`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "x-resilience-admin": "1" }
    })
    expect(response.status).toBe(200)
    await page.waitForFunction(
      () => {
        const name = document.querySelector(`.rows .row:not([hidden]) .name[aria-label^="search,"]`)
        return name?.parentElement?.querySelector(".badge")?.textContent === "Forced open"
      },
      undefined,
      { timeout: 1_000, polling: "raf" }
    )
    expect(Date.now() - started).toBeLessThan(1_000)
    if (updateScreenshots) {
      await page.click(`.name[aria-label^="inventory,"]`)
      await page.waitForSelector(".detail .badge.s-Open")
      mkdirSync("docs/images", { recursive: true })
      await page.screenshot({ path: "docs/images/dashboard-tripped.png" })
    }
    await fetch(`${service.url}/admin/circuits/search/reset`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "x-resilience-admin": "1" }
    })
    expect(errors).toEqual([])
    await close()
  })

  it("reconnects by itself after the server restarts, and shows the new server's state", async () => {
    const { close, page } = await open(browser, `${service.url}/dashboard`)
    expect(await rowNames(page)).not.toContain("after-restart")
    await service.stop()
    await page.waitForFunction(() => document.getElementById("status")?.textContent !== "live", undefined, {
      timeout: 3_000
    })
    service = await startService({ port, breakers: [...breakers, "after-restart"], keys: 3, traffic: true })
    // The browser retries after the 1 s the stream asked for; the new Init rebuilds the page.
    await page.waitForFunction(
      () => [...document.querySelectorAll(".rows .name")].some((el) => el.textContent === "after-restart"),
      undefined,
      { timeout: 5_000 }
    )
    expect(await stateOf(page, "inventory")).toBe("Closed") // the new server's breaker never tripped
    expect(await page.$eval("#status", (el) => el.textContent)).toBe("live")
    await close()
  })

  it("renders 1,000 circuits in under 500 ms, and scrolls to the last", async () => {
    const bigPort = await freePort()
    const big = await startService({ port: bigPort, breakers: [], keys: 1_000 })
    try {
      const { close, errors, page } = await open(browser, `${big.url}/dashboard`)
      expect(await page.$eval("body", (el) => el.dataset["rendered"])).toBe("1000")
      const render = await page.evaluate(() => performance.getEntriesByName("dashboard:render")[0]!.duration)
      console.log(`[dashboard] 1,000 circuits: first render ${render.toFixed(1)} ms after the Init event arrived`)
      expect(render).toBeLessThan(500)
      // Only the rows in view exist.
      expect(await page.$$eval(".rows .row", (rows) => rows.length)).toBeLessThan(80)
      await page.$eval("#viewport", (el) => el.scrollTop = el.scrollHeight)
      await page.waitForFunction(() =>
        [...document.querySelectorAll(".rows .row:not([hidden]) .name")].some((el) => el.textContent === "tenant-0999")
      )
      expect(errors).toEqual([])
      await close()
    } finally {
      await big.stop()
    }
  })

  it("works with the keyboard only: filter, reach a circuit, trigger an action", async () => {
    const { close, errors, page } = await open(browser, `${service.url}/dashboard`)
    await page.keyboard.press("Tab") // the filter is the first stop
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("filter")
    await page.keyboard.type("paym")
    await page.keyboard.press("ArrowDown") // into the list
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("payments")
    await page.keyboard.press("Enter") // selects it: the panel shows its actions
    await page.waitForSelector(`button[aria-label="Force open payments"]`)
    // Tab on to the action; focus is visible on the way.
    for (let i = 0; i < 20; i++) {
      await page.keyboard.press("Tab")
      const label = await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))
      if (label === "Force open payments") break
    }
    expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))).toBe("Force open payments")
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).not.toBe("none")
    await page.keyboard.press("Enter") // no token yet: the dialog asks for it
    await page.waitForSelector("#token-dialog[open]")
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("token-input")
    await page.keyboard.type(adminToken)
    await page.keyboard.press("Enter")
    await page.waitForFunction(
      () => {
        const name = document.querySelector(`.rows .row:not([hidden]) .name[aria-label^="payments,"]`)
        return name?.parentElement?.querySelector(".badge")?.textContent === "Forced open"
      },
      undefined,
      { timeout: 2_000 }
    )
    expect(await page.evaluate(() => sessionStorage.getItem("effect-resilience:admin-token"))).toBe(adminToken)
    await fetch(`${service.url}/admin/circuits/payments/reset`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "x-resilience-admin": "1" }
    })
    expect(errors).toEqual([])
    await close()
  })

  it("reads in light and dark: the toggle overrides the system's preference", async () => {
    for (const scheme of ["light", "dark"] as const) {
      const { close, errors, page } = await open(browser, `${service.url}/dashboard`, scheme)
      const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor)
      const initial = await background()
      expect(initial).toBe(scheme === "light" ? "rgb(255, 255, 255)" : "rgb(15, 20, 25)")
      if (updateScreenshots) {
        await page.click(`.name[aria-label^="payments,"]`)
        await page.waitForTimeout(1_500) // real clock: a few ticks of traffic for the chart
        await page.screenshot({ path: `docs/images/dashboard-${scheme}.png` })
      }
      await page.click("#theme")
      expect(await background()).not.toBe(initial)
      expect(errors).toEqual([])
      await close()
    }
  })
})
