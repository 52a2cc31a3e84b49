import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { defineConfig } from "tsup"
import ts from "typescript"

// Every top-level module of src/ is a public entry point (see package.json#exports);
// src/internal/ is bundled into shared chunks and never exported.
//
// tsup bundles the JavaScript. The declarations are TypeScript's own, one file per module of
// src/ (tsup's bundled declarations dropped the type half of names that are both an interface
// and a value, such as `CircuitBreaker.CircuitBreaker`, behind `export * as CircuitBreaker`).
// Each `.d.ts` gets a `.d.cts` twin whose relative imports name `.cjs` files, so that `require`
// resolves CommonJS declarations all the way down.
export default defineConfig({
  entry: ["src/*.ts"],
  format: ["esm", "cjs"],
  dts: false,
  sourcemap: true,
  clean: true,
  splitting: true,
  target: "node22",
  external: ["effect"],
  tsconfig: "tsconfig.build.json",
  onSuccess: async () => {
    emitDeclarations("tsconfig.build.json", "dist")
    addCommonJsTwins("dist")
  }
})

const emitDeclarations = (tsconfig: string, outDir: string): void => {
  const parsed = ts.getParsedCommandLineOfConfigFile(tsconfig, undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => fail([diagnostic])
  })!
  const program = ts.createProgram(parsed.fileNames, {
    ...parsed.options,
    noEmit: false,
    declaration: true,
    declarationMap: true,
    emitDeclarationOnly: true,
    rootDir: "src",
    outDir
  })
  const emitted = program.emit()
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics]
  if (diagnostics.length > 0 || emitted.emitSkipped) fail(diagnostics)
}

const fail = (diagnostics: ReadonlyArray<ts.Diagnostic>): never => {
  throw new Error(ts.formatDiagnostics(diagnostics, {
    getCanonicalFileName: (name) => name,
    getCurrentDirectory: ts.sys.getCurrentDirectory,
    getNewLine: () => "\n"
  }))
}

const addCommonJsTwins = (outDir: string): void => {
  const files = readdirSync(outDir, { recursive: true, encoding: "utf8" }).filter((file) => file.endsWith(".d.ts"))
  for (const file of files) {
    const path = join(outDir, file)
    const twin = path.replace(/\.d\.ts$/, ".d.cts")
    const map = `${path}.map`
    const text = readFileSync(path, "utf8").replace(
      /\/\/# sourceMappingURL=(\S+)\.d\.ts\.map$/m,
      (_, name) => `//# sourceMappingURL=${name}.d.cts.map`
    )
    writeFileSync(twin, toCommonJsSpecifiers(path, text))
    const sourceMap = JSON.parse(readFileSync(map, "utf8")) as { file: string }
    sourceMap.file = sourceMap.file.replace(/\.d\.ts$/, ".d.cts")
    writeFileSync(`${twin}.map`, JSON.stringify(sourceMap))
  }
}

/** Rewrites the relative module specifiers `./x.js` of a declaration file to `./x.cjs`. */
const toCommonJsSpecifiers = (path: string, text: string): string => {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
  const specifiers: Array<ts.StringLiteralLike> = []
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined) {
      if (ts.isStringLiteralLike(node.moduleSpecifier)) specifiers.push(node.moduleSpecifier)
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      if (ts.isStringLiteralLike(node.argument.literal)) specifiers.push(node.argument.literal)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  let result = text
  for (const specifier of specifiers.reverse()) {
    if (!/^\.\.?\/.*\.js$/.test(specifier.text)) continue
    const end = specifier.getEnd() - 1 // before the closing quote
    result = result.slice(0, end - 3) + ".cjs" + result.slice(end)
  }
  return result
}
