// @ts-check
import * as effectEslint from "@effect/eslint-plugin"
import js from "@eslint/js"
import tseslint from "typescript-eslint"

export default tseslint.config(
  // dashboardAssets.ts is generated (scripts/dashboard-assets.mjs) and checked by its own test.
  {
    ignores: [
      "dist/",
      "node_modules/",
      "coverage/",
      ".doc-examples/",
      "src/internal/dashboardAssets.ts",
      "bench/.run.mjs",
      "bench/.http.mjs"
    ]
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // The formatter: dprint through Effect's own ESLint plugin, with Effect's repository settings.
  // `npm run lint` checks the format; `npm run format` rewrites the tree to it.
  ...effectEslint.configs.dprint,
  {
    rules: {
      "@effect/dprint": [
        "error",
        {
          config: {
            indentWidth: 2,
            lineWidth: 120,
            semiColons: "asi",
            quoteStyle: "alwaysDouble",
            trailingCommas: "never",
            operatorPosition: "maintain",
            "arrowFunction.useParentheses": "force"
          }
        }
      ]
    }
  },
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
    },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "separate-type-imports" }],
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-namespace": "off",
      "require-yield": "off",
      "no-constant-condition": ["error", { checkLoops: false }],
      eqeqeq: ["error", "always"]
    }
  },
  {
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      parserOptions: { projectService: false },
      globals: {
        URL: "readonly",
        console: "readonly",
        process: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly"
      }
    }
  },
  {
    // The consumer test's CommonJS side: it exists to `require` the package.
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { require: "readonly" } },
    rules: { "@typescript-eslint/no-require-imports": "off" }
  },
  {
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-non-null-assertion": "off" }
  }
)
