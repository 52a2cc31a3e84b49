/**
 * `node --expose-gc --import tsx bench/registry-churn.ts [runs]`: the
 * registry churn case of bench/registryChurn.ts alone, segment by segment.
 */
import { churnCase, measureChurn } from "./registryChurn.js"

const runs = Number(process.argv[2] ?? 1)
const result = await measureChurn(churnCase, runs)
const segment = churnCase.segment.toLocaleString("en")
result.nsPerKey.forEach((ns, i) =>
  console.log(`keys ${i * churnCase.segment + 1}.. (${segment}): ${ns.toFixed(0)} ns/key`)
)
console.log(
  `last/first ${(result.nsPerKey.at(-1)! / result.nsPerKey[0]!).toFixed(2)}, ` +
    `refused ${result.refused}, unexpected ${result.unexpected}, size ${result.size}`
)
