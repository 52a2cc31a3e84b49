import { defineConfig } from "tsup"

// Every top-level module of src/ is a public entry point (see package.json#exports);
// src/internal/ is bundled into shared chunks and never exported.
export default defineConfig({
  entry: ["src/*.ts"],
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  splitting: true,
  target: "node22",
  external: ["effect"],
  tsconfig: "tsconfig.build.json"
})
