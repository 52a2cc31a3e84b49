import { describe, expect, it } from "@effect/vitest"
import { readdirSync, readFileSync } from "node:fs"

const root = new URL("..", import.meta.url)
const modules = readdirSync(new URL("src/", root))
  .filter((file) => file.endsWith(".ts") && file !== "index.ts")
  .map((file) => file.slice(0, -3))
  .sort()

describe("package", () => {
  it("every public module of src/ is an entry point of package.json, and nothing else is", () => {
    const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as {
      readonly exports: Record<string, unknown>
    }
    const entries = Object.keys(pkg.exports)
      .filter((key) => key !== "." && key !== "./package.json")
      .map((key) => key.slice(2))
      .sort()
    expect(entries).toEqual(modules)
  })

  it("every public module is exported from the index", () => {
    const index = readFileSync(new URL("src/index.ts", root), "utf8")
    for (const module of modules) expect(index).toContain(`"./${module}.js"`)
  })
})
