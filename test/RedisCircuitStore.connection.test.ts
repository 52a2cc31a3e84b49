import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer } from "effect"
import { Limits, PolicyConfigError, RedisCircuitStore } from "../src/index.js"

const issuesOf = (exit: Exit.Exit<unknown, unknown>) => {
  if (Exit.isSuccess(exit)) return []
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  return error?._tag === "Fail" && error.error instanceof PolicyConfigError
    ? error.error.issues.map((issue) => [issue.field, issue.rule] as const)
    : [["(not a PolicyConfigError)", String(error)] as const]
}

const build = (options: RedisCircuitStore.RedisCircuitStoreOptions) =>
  Effect.exit(Layer.build(RedisCircuitStore.layer(options)).pipe(Effect.scoped))

const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

describe("RedisCircuitStore connection options", () => {
  it.effect("a cluster is its seed nodes' URLs: at least one, at most Limits.maxClusterNodes, checked one by one", () =>
    Effect.gen(function*() {
      expect(issuesOf(yield* build({ cluster: { nodes: [] } }))).toEqual([
        ["cluster.nodes", "must list 1 to 64 node URLs (got 0)"]
      ])
      const many = Array.from({ length: 1_000_000 }, () => "nonsense")
      expect(issuesOf(yield* build({ cluster: { nodes: many } }))).toEqual([
        ["cluster.nodes", `must list 1 to ${Limits.maxClusterNodes} node URLs (got 1000000)`]
      ])
      expect(issuesOf(yield* build({ cluster: { nodes: ["redis://a:7000", "http://b:7000", "redis://c:7000/3"] } })))
        .toEqual([
          ["cluster.nodes.1", "must be a redis:// or rediss:// URL (got \"http://b:7000\")"],
          [
            "cluster.nodes.2",
            "must not select a database: a Redis Cluster has database 0 only (got \"redis://c:7000/3\")"
          ]
        ])
      // A URL where the object belongs is not quoted back: it may hold a password.
      expect(issuesOf(yield* build({ cluster: "redis://u:pw@a:7000" as never }))).toEqual([
        ["cluster", "must be an object such as { nodes: [\"redis://host:6379\"] } (got a string of 19 characters)"]
      ])
      expect(issuesOf(yield* build({ cluster: { nodes: "redis://u:pw@a:7000" as never, seeds: [] } as never })))
        .toEqual([
          ["cluster.seeds", "must not be given: the fields here are nodes (got a list)"],
          ["cluster.nodes", "must be a list of redis:// or rediss:// URLs (got a string of 19 characters)"]
        ])
      expect(issuesOf(yield* build({ cluster: {} as never }))).toEqual([["cluster.nodes", "is required"]])
    }))

  it.effect("url or cluster, not both; a cluster's nodes agree on TLS and credentials", () =>
    Effect.gen(function*() {
      expect(issuesOf(yield* build({ url: "redis://a:6379", cluster: { nodes: ["redis://a:7000"] } }))).toEqual([
        ["cluster", "cannot be given with url: list every seed node, the first one included, in cluster.nodes"]
      ])
      expect(issuesOf(yield* build({ cluster: { nodes: ["redis://a:7000", "rediss://b:7000"] } }))).toEqual([
        [
          "cluster.nodes",
          "must all be redis:// or all rediss:// URLs: every node of a cluster is reached the same way"
        ]
      ])
      expect(issuesOf(yield* build({ cluster: { nodes: ["redis://u:one@a:7000", "redis://u:two@b:7000"] } })))
        .toEqual([[
          "cluster.nodes",
          "must all carry the same user and password: the client uses one set for every node it discovers"
        ]])
    }))

  it.effect("from the environment: REDIS_URL is the url, so beside a cluster in the base options it is reported", () =>
    Effect.gen(function*() {
      const cluster = { nodes: ["redis://a:7000"] }
      const withEnv = (env: Record<string, string>) =>
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))
      expect(yield* RedisCircuitStore.fromConfig({ cluster }).pipe(withEnv({}))).toEqual({ cluster })
      const exit = yield* Effect.exit(
        RedisCircuitStore.fromConfig({ cluster }).pipe(withEnv({ REDIS_URL: "redis://b:6379" }))
      )
      expect(issuesOf(exit)).toEqual([
        ["cluster", "cannot be given with url: list every seed node, the first one included, in cluster.nodes"]
      ])
    }))

  it.effect("URLs: a host, a port, a database path at most, no query; bounded in length", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["redis://cache:6379?tls=true", "must have no query or fragment"],
        ["redis://cache:0", "must have a port between 1 and 65535"],
        ["redis://cache:6379/orders", "must have a database number as its path"],
        ["redis://cache:6379/99999999999", "must have a database number as its path"],
        ["redis:// cache:6379", "must be a redis:// or rediss:// URL"],
        ["redis://cache:6379".padEnd(Limits.maxRedisUrlLength + 1, "0"), "must be at most 4096 characters"]
      ]
      for (const [url, rule] of cases) {
        const issues = issuesOf(yield* build({ url }))
        expect(issues).toHaveLength(1)
        expect(issues[0]![0]).toBe("url")
        expect(issues[0]![1]).toContain(rule)
      }
      expect(issuesOf(yield* build({ url: "rediss://user:p%40ss@[::1]:6380/2" }))).toEqual([])
    }))

  it.effect("TLS options: PEM texts for rediss:// only, a client certificate with its key, bounded", () =>
    Effect.gen(function*() {
      expect(issuesOf(yield* build({ url: "redis://cache:6379", tls: { ca: pem } }))).toEqual([
        ["tls", "needs rediss:// URLs: TLS options apply to TLS connections only"]
      ])
      expect(issuesOf(yield* build({ tls: { ca: pem } }))).toEqual([
        ["tls", "needs rediss:// URLs: TLS options apply to TLS connections only"]
      ])
      expect(issuesOf(yield* build({ url: "rediss://cache:6380", tls: { cert: pem } }))).toEqual([
        ["tls.key", "is required with tls.cert"]
      ])
      const notPem = issuesOf(yield* build({ url: "rediss://cache:6380", tls: { ca: "/etc/redis/ca.pem" } }))
      expect(notPem).toEqual([[
        "tls.ca",
        "must be PEM text (\"-----BEGIN ...-----\"), such as readFileSync(path, \"utf8\") (got a string of 17 characters)"
      ]])
      expect(issuesOf(yield* build({ url: "rediss://cache:6380", tls: pem as never }))).toEqual([
        ["tls", `must be an object of PEM texts such as { ca } (got a string of ${pem.length} characters)`]
      ])
      const huge = `${pem}${"A".repeat(Limits.maxPemLength)}`
      expect(issuesOf(yield* build({ url: "rediss://cache:6380", tls: { ca: huge } }))).toEqual([[
        "tls.ca",
        `must be at most ${Limits.maxPemLength} characters (got ${huge.length} characters)`
      ]])
      expect(issuesOf(yield* build({ url: "rediss://cache:6380", tls: { ca: pem, cert: pem, key: pem } }))).toEqual([])
    }))

  it.effect("no rule quotes a password or a private key back, however the URL is broken", () =>
    Effect.gen(function*() {
      const secret = "hunter2-secret"
      const urls = [
        `redis://user:${secret}@cache:6379 `,
        `redis://user:${secret}@cache:6379?db=1`,
        `redis://user:${secret}@cache:0`,
        `redis://user:${secret}@cache:6379/orders`,
        `redis://user:${secret.replace("-", "/")}@cache:6379`,
        `redis://user:${secret.replace("-", "#")}@cache:6379`,
        `redis://user:${secret}%zz@cache:6379`,
        `redis://user:${secret}`,
        `http://user:${secret}@cache:6379`
      ]
      for (const url of urls) {
        const exit = yield* build({ url })
        expect(issuesOf(exit)).toHaveLength(1)
        expect(JSON.stringify(issuesOf(exit))).not.toContain("hunter2")
        expect(String(Exit.isFailure(exit) ? exit.cause : "")).not.toContain("hunter2")
        const inCluster = yield* build({ cluster: { nodes: ["redis://seed:7000", url] } })
        expect(issuesOf(inCluster).length).toBeGreaterThan(0)
        expect(JSON.stringify(issuesOf(inCluster))).not.toContain("hunter2")
      }
      const key = `-----BEGIN PRIVATE KEY-----\n${secret}\n-----END PRIVATE KEY-----\n`
      const exit = yield* build({ url: "redis://cache:6379", tls: { key, cert: key } })
      expect(issuesOf(exit).length).toBeGreaterThan(0)
      expect(JSON.stringify(issuesOf(exit))).not.toContain("hunter2")
    }))
})
