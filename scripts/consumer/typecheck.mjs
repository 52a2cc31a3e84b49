// Type-checking for scripts/consumer-test.mjs, with the TypeScript compiler API:
// - `exportsOfSources`: what each entry point exports according to src/ (names, and whether
//   each is a value, a type, a namespace), the reference;
// - `checkConsumer`: a program of the consumer project under one module resolution, whose
//   diagnostics (the examples', and those of the installed declarations) are returned, and
//   whose view of every entry point's exports is compared with the reference.
import { join, relative } from "node:path"
import ts from "typescript"

/** The compiler options of a tsconfig file of the project, parsed; an unreadable one throws. */
const parsedConfig = (file) =>
  ts.getParsedCommandLineOfConfigFile(file, undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"))
    }
  }).options

/**
 * Options every consumer program shares: the project's own (its tsconfig.json: target, lib,
 * strictness), read rather than copied so they cannot drift, without what only makes sense
 * inside the repository: `paths` to src/, its module settings (each resolution sets its own),
 * and the unused-name checks that examples, which declare what they show, would trip.
 */
const consumerOptions = (root) => {
  const {
    baseUrl: _baseUrl,
    configFilePath: _configFilePath,
    module: _module,
    moduleResolution: _moduleResolution,
    noUnusedLocals: _noUnusedLocals,
    noUnusedParameters: _noUnusedParameters,
    paths: _paths,
    pathsBasePath: _pathsBasePath,
    ...options
  } = parsedConfig(join(root, "tsconfig.json"))
  return { ...options, noEmit: true }
}

/** The module settings of each resolution the consumer test checks. */
export const resolutions = {
  nodenext: { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext },
  bundler: { module: ts.ModuleKind.Preserve, moduleResolution: ts.ModuleResolutionKind.Bundler }
}

const { Alias, Namespace, Type, Value } = ts.SymbolFlags

/**
 * The exports of a module symbol, flattened: `name` or `Namespace.name` (two levels down, so
 * that `CircuitBreaker.CircuitBreaker` of the root entry is there) to its meanings, for
 * example `"value+type"`, with `any` added when its type is `any` (an unresolved type).
 */
const exportTree = (checker, moduleSymbol, prefix = "", depth = 0, tree = new Map()) => {
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const symbol = exported.flags & Alias ? checker.getAliasedSymbol(exported) : exported
    const name = prefix + exported.name
    const meanings = []
    if (symbol.flags & Value) meanings.push("value")
    if (symbol.flags & Type) meanings.push("type")
    if (symbol.flags & Namespace) meanings.push("namespace")
    const isAny = (type) => (type.flags & ts.TypeFlags.Any) !== 0
    if (
      (symbol.flags & Value && isAny(checker.getTypeOfSymbol(symbol))) ||
      (symbol.flags & Type && isAny(checker.getDeclaredTypeOfSymbol(symbol)))
    ) meanings.push("any")
    tree.set(name, meanings.join("+"))
    if (symbol.flags & Namespace && depth < 2) exportTree(checker, symbol, `${name}.`, depth + 1, tree)
  }
  return tree
}

/**
 * What each entry point exports according to the sources: `[{ specifier, file, tree, values }]`
 * where `values` are the top-level value exports (what `require` and `import` must show).
 */
export const exportsOfSources = (root, entries) => {
  const program = ts.createProgram(
    entries.map((entry) => join(root, entry.file)),
    parsedConfig(join(root, "tsconfig.build.json"))
  )
  const checker = program.getTypeChecker()
  return entries.map((entry) => {
    const source = program.getSourceFile(join(root, entry.file))
    const tree = exportTree(checker, checker.getSymbolAtLocation(source))
    const values = [...tree].filter(([name, meanings]) => !name.includes(".") && meanings.includes("value"))
      .map(([name]) => name).sort()
    return { ...entry, tree, values }
  })
}

/**
 * Type-checks `files` (absolute paths) of the consumer project `dir` under `resolution`, with
 * the options of the project at `root`, and the installed declarations of the package checked
 * too (not skipped as a library). `importers`
 * maps a file that imports every entry point (one import per entry, in `reference` order) to
 * a label; each one's view of the exports is compared with `reference`.
 * Returns the problems: `{ where, message }`.
 */
export const checkConsumer = ({ dir, root, files, importers, reference, resolution, packageName, describe }) => {
  const options = { ...consumerOptions(root), ...resolutions[resolution], skipLibCheck: false }
  const program = ts.createProgram([...files, ...Object.keys(importers)], options)
  const ownDeclarations = `${join(dir, "node_modules", packageName)}/`
  const problems = []
  const report = (diagnostics) => {
    for (const diagnostic of diagnostics) {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")
      if (diagnostic.file === undefined) {
        problems.push({ where: `${resolution}`, message })
        continue
      }
      const { character, line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0)
      problems.push({
        where: `${describe(diagnostic.file.fileName, line + 1, character + 1)} (${resolution})`,
        message
      })
    }
  }
  report(program.getOptionsDiagnostics())
  report(program.getGlobalDiagnostics())
  for (const source of program.getSourceFiles()) {
    const name = source.fileName
    if (name.startsWith(ownDeclarations) || files.includes(name) || name in importers) {
      report(program.getSyntacticDiagnostics(source))
      report(program.getSemanticDiagnostics(source))
    }
  }

  const checker = program.getTypeChecker()
  for (const [file, label] of Object.entries(importers)) {
    const source = program.getSourceFile(file)
    const specifiers = source.statements.flatMap((statement) =>
      ts.isImportDeclaration(statement)
        ? [statement.moduleSpecifier]
        : ts.isImportEqualsDeclaration(statement)
        ? [statement.moduleReference.expression]
        : []
    )
    specifiers.forEach((specifier, index) => {
      const entry = reference[index]
      const where = `${entry.specifier} (${label}, ${resolution})`
      const moduleSymbol = checker.getSymbolAtLocation(specifier)
      if (moduleSymbol === undefined) return problems.push({ where, message: "the entry point does not resolve" })
      const resolved = relative(dir, moduleSymbol.declarations?.[0]?.getSourceFile().fileName ?? "?")
      const tree = exportTree(checker, moduleSymbol)
      for (const [name, meanings] of entry.tree) {
        const got = tree.get(name)
        if (got !== meanings) {
          problems.push({
            where,
            message: got === undefined
              ? `${name} (${meanings} in ${entry.file}) is missing from ${resolved}`
              : `${name} is ${meanings} in ${entry.file} but ${got} in ${resolved}`
          })
        }
      }
      for (const name of tree.keys()) {
        if (!entry.tree.has(name)) {
          problems.push({ where, message: `${name} is in ${resolved} but not in ${entry.file}` })
        }
      }
    })
  }
  return problems
}
