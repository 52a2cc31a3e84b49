/**
 * Where the Redis circuit store connects, and how: one server (`url`) or a
 * Redis Cluster (`cluster.nodes`), with credentials and TLS. Validates those
 * options into settings the client modules use, and says where a connection
 * goes without ever saying its password.
 *
 * Every URL is parsed here rather than by the client, so that node-redis is
 * handed a host, a port, a user and a password, never a URL it could echo
 * in an error, and so that no rule quotes a password back: a URL quoted in a
 * `ConfigIssue` is redacted first.
 *
 * @internal
 */
import { Effect, Redacted, Schema, SchemaIssue, SchemaTransformation } from "effect"
import { ConfigIssue } from "../ConfigIssue.js"
import { maxClusterNodes, maxPemLength, maxRedisUrlLength } from "../Limits.js"
import { describeValue } from "./options.js"

/** One Redis server: a host and a port. @internal */
export interface RedisNode {
  readonly host: string
  readonly port: number
}

/** The PEM texts of a TLS connection; none given: Node's own certificate authorities. @internal */
export interface RedisTlsSettings {
  readonly ca?: string | undefined
  readonly cert?: string | undefined
  readonly key?: string | undefined
}

/** Validated connection settings. @internal */
export interface RedisConnectionSettings {
  /** One server, or a Redis Cluster whose other nodes are discovered from `nodes`. */
  readonly topology: "single" | "cluster"
  /** The server (one), or the cluster's seed nodes. */
  readonly nodes: ReadonlyArray<RedisNode>
  /** TLS (`rediss://`) when set. */
  readonly tls: RedisTlsSettings | undefined
  readonly username: string | undefined
  readonly password: Redacted.Redacted<string> | undefined
  /** The database a single server selects (a cluster has database 0 only). */
  readonly database: number
  /** Where the store connects, for logs: the URLs with `***` for any password. */
  readonly description: string
}

/** A URL read into its parts. */
interface ParsedUrl {
  readonly secure: boolean
  readonly node: RedisNode
  readonly username: string | undefined
  readonly password: string | undefined
  readonly database: number
  readonly display: string
}

const defaultPort = 6379
const maxDatabase = 2 ** 31 - 1

/**
 * `text` with whatever may be a password replaced by `***`: everything
 * between `://` and the last `@` (a password may hold an `@` that was not
 * percent-encoded), or, without an `@`, what follows a `:` that is not a
 * port. Used for any URL quoted back, valid or not.
 *
 * @internal
 */
export const redactUrl = (text: string): string => {
  const start = text.indexOf("://")
  const head = start < 0 ? "" : text.slice(0, start + 3)
  const rest = start < 0 ? text : text.slice(start + 3)
  const at = rest.lastIndexOf("@")
  if (at >= 0) return `${head}***@${rest.slice(at + 1)}`
  const end = rest.search(/[/?#]/)
  const authority = end < 0 ? rest : rest.slice(0, end)
  const colon = authority.indexOf(":")
  if (colon >= 0 && !/^\d*$/.test(authority.slice(colon + 1))) {
    return `${head}${authority.slice(0, colon + 1)}***${end < 0 ? "" : rest.slice(end)}`
  }
  return text
}

/** The rule a URL breaks, quoting it redacted. */
const notAUrl = (url: string) => `must be a redis:// or rediss:// URL (got ${describeValue(redactUrl(url))})`

const decodeCredential = (text: string): string | undefined => {
  try {
    return text === "" ? undefined : decodeURIComponent(text)
  } catch {
    return undefined
  }
}

/** Reads a Redis URL into its parts, or says the rule it breaks (never quoting a password). */
const parseUrl = (url: string): ParsedUrl | { readonly problem: string } => {
  if (url.length > maxRedisUrlLength) {
    return { problem: `must be at most ${maxRedisUrlLength} characters (got ${url.length} characters)` }
  }
  // The URL parser drops spaces and tabs: a URL with one is a mistake to report, not to repair.
  if (!/^rediss?:\/\/[^\s]+$/.test(url)) return { problem: notAUrl(url) }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return { problem: notAUrl(url) }
  }
  const secure = parsed.protocol === "rediss:"
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1")
  if (host === "") return { problem: `must name a host (got ${describeValue(redactUrl(url))})` }
  if (parsed.search !== "" || parsed.hash !== "") {
    return {
      problem: `must have no query or fragment: the store reads no option from the URL (got ${
        describeValue(redactUrl(url))
      })`
    }
  }
  const path = parsed.pathname
  if (path !== "" && path !== "/" && !/^\/\d{1,10}$/.test(path)) {
    return {
      problem: `must have a database number as its path, such as /0, or no path (got ${describeValue(redactUrl(url))})`
    }
  }
  const database = path.length > 1 ? Number(path.slice(1)) : 0
  if (database > maxDatabase) {
    return { problem: `must select a database between 0 and ${maxDatabase} (got ${describeValue(redactUrl(url))})` }
  }
  const username = decodeCredential(parsed.username)
  const password = decodeCredential(parsed.password)
  if ((parsed.username !== "" && username === undefined) || (parsed.password !== "" && password === undefined)) {
    return { problem: `must percent-encode its user and password (got ${describeValue(redactUrl(url))})` }
  }
  const port = parsed.port === "" ? defaultPort : Number(parsed.port)
  if (port === 0) return { problem: `must have a port between 1 and 65535 (got ${describeValue(redactUrl(url))})` }
  const credentials = parsed.username === "" && parsed.password === ""
    ? ""
    : `${parsed.username}${parsed.password === "" ? "" : ":***"}@`
  return {
    secure,
    node: { host, port },
    username,
    password,
    database,
    display: `${parsed.protocol}//${credentials}${parsed.hostname}:${port}${database === 0 ? "" : `/${database}`}`
  }
}

const isParsed = (u: ParsedUrl | { readonly problem: string }): u is ParsedUrl => !("problem" in u)

/**
 * The `url` option: a `redis://` or `rediss://` URL, with an optional user,
 * password (percent-encoded) and database.
 *
 * @internal
 */
export const UrlOption = Schema.String.check(
  Schema.makeFilter((url: string) => {
    const parsed = parseUrl(url)
    return isParsed(parsed) ? undefined : parsed.problem
  })
)

const clusterNodeProblem = (url: unknown): string | undefined => {
  if (typeof url !== "string") return `must be a redis:// or rediss:// URL (got ${describeValue(url)})`
  const parsed = parseUrl(url)
  if (!isParsed(parsed)) return parsed.problem
  if (parsed.database !== 0) {
    return `must not select a database: a Redis Cluster has database 0 only (got ${describeValue(redactUrl(url))})`
  }
  return undefined
}

const invalid = (input: unknown, message: string) => new SchemaIssue.InvalidValue({ message }, input)

/** What a value is, for a rule, without quoting it: a string here may hold a password or a key. */
const kindOf = (u: unknown): string =>
  typeof u === "string"
    ? `a string of ${u.length} characters`
    : Array.isArray(u)
    ? "a list"
    : u === null
    ? "null"
    : typeof u

// The whole list at once, its length before any entry: a list of a million entries is one issue,
// not a million.
const nodesIssue = (input: unknown): SchemaIssue.Issue | undefined => {
  if (input === undefined) return new SchemaIssue.MissingKey(undefined)
  if (!Array.isArray(input)) {
    return invalid(input, `must be a list of redis:// or rediss:// URLs (got ${kindOf(input)})`)
  }
  if (input.length === 0 || input.length > maxClusterNodes) {
    return invalid(input, `must list 1 to ${maxClusterNodes} node URLs (got ${input.length})`)
  }
  const issues: Array<SchemaIssue.Issue> = []
  input.forEach((url: unknown, i) => {
    const problem = clusterNodeProblem(url)
    if (problem !== undefined) issues.push(new SchemaIssue.Pointer([i], invalid(url, problem)))
  })
  return issuesTogether(issues, input)
}

const issuesTogether = (issues: ReadonlyArray<SchemaIssue.Issue>, input: unknown): SchemaIssue.Issue | undefined => {
  const [first, ...rest] = issues
  if (first === undefined) return undefined
  return rest.length === 0 ? first : new SchemaIssue.Composite(Schema.Unknown.ast, [first, ...rest], input)
}

/**
 * Decodes an object option field by field with `fields`, each field's issue
 * at its own path; a field it does not know is an unexpected key.
 */
const decodeObject = <A>(
  input: unknown,
  expected: string,
  fields: { readonly [K in keyof A]-?: (value: unknown) => SchemaIssue.Issue | undefined }
): Effect.Effect<A, SchemaIssue.Issue> => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return Effect.fail(invalid(input, `must be ${expected} (got ${kindOf(input)})`))
  }
  const issues: Array<SchemaIssue.Issue> = []
  const record = input as Record<string, unknown>
  // The first unknown field only: an object with a million of them is one issue.
  const unknown = Object.keys(record).find((key) => !Object.hasOwn(fields, key))
  if (unknown !== undefined) {
    const rule = `must not be given: the fields here are ${Object.keys(fields).join(", ")} (got ${
      kindOf(record[unknown])
    })`
    issues.push(new SchemaIssue.Pointer([unknown], invalid(record[unknown], rule)))
  }
  for (const key of Object.keys(fields) as Array<keyof A & string>) {
    const issue = fields[key](record[key])
    if (issue !== undefined) issues.push(new SchemaIssue.Pointer([key], issue))
  }
  const issue = issuesTogether(issues, input)
  return issue === undefined ? Effect.succeed(input as A) : Effect.fail(issue)
}

/** An option decoded by `decode`, described as `expected` where a type is shown. */
const customOption = <A>(expected: string, decode: (input: unknown) => Effect.Effect<A, SchemaIssue.Issue>) =>
  Schema.Unknown.pipe(
    Schema.decodeTo(
      Schema.declare((u: unknown): u is A => typeof u === "object" && u !== null, { expected }),
      SchemaTransformation.transformEffect({ decode, encode: (a: A) => Effect.succeed(a as unknown) })
    )
  )

/**
 * The `cluster` option: the URLs of some of a Redis Cluster's nodes (the
 * client discovers the rest).
 *
 * @internal
 */
export const ClusterOption = customOption<{ readonly nodes: ReadonlyArray<string> }>(
  "a cluster's seed nodes",
  (input) =>
    decodeObject<{ readonly nodes: ReadonlyArray<string> }>(
      input,
      "an object such as { nodes: [\"redis://host:6379\"] }",
      {
        nodes: nodesIssue
      }
    )
)

// A PEM text is never quoted back: it may be a private key.
const pemProblem = (text: unknown): string | undefined => {
  if (text === undefined) return undefined
  if (typeof text !== "string") return `must be PEM text (got ${kindOf(text)})`
  if (text.length > maxPemLength) {
    return `must be at most ${maxPemLength} characters (got ${text.length} characters)`
  }
  if (!/-----BEGIN [A-Z0-9 ]+-----/.test(text)) {
    return `must be PEM text ("-----BEGIN ...-----"), such as readFileSync(path, "utf8") (got ${kindOf(text)})`
  }
  return undefined
}

const pemField = (value: unknown): SchemaIssue.Issue | undefined => {
  const problem = pemProblem(value)
  return problem === undefined ? undefined : invalid(value, problem)
}

/**
 * The `tls` option: PEM texts for a `rediss://` connection.
 *
 * @internal
 */
export const TlsOption = customOption<RedisTlsSettings>(
  "TLS options",
  (input) =>
    decodeObject<RedisTlsSettings>(input, "an object of PEM texts such as { ca }", {
      ca: pemField,
      cert: pemField,
      key: pemField
    })
)

/** The connection options, as decoded. @internal */
export interface ConnectionOptions {
  readonly url?: string | undefined
  readonly cluster?: { readonly nodes: ReadonlyArray<string> } | undefined
  readonly tls?: RedisTlsSettings | undefined
}

const parsedAll = (urls: ReadonlyArray<string>): Array<ParsedUrl> => urls.map(parseUrl).filter(isParsed)

/**
 * The rules that relate the connection options: `url` or `cluster`, not
 * both; a cluster's nodes agree on TLS and credentials (node-redis uses one
 * set for every node it discovers); `tls` needs `rediss://`, and a client
 * certificate its key.
 *
 * @internal
 */
export const connectionRelations = (o: ConnectionOptions, invalidFields: ReadonlySet<string>): Array<ConfigIssue> => {
  const issues: Array<ConfigIssue> = []
  if (o.url !== undefined && o.cluster !== undefined) {
    issues.push(
      new ConfigIssue({
        field: "cluster",
        rule: "cannot be given with url: list every seed node, the first one included, in cluster.nodes"
      })
    )
  }
  const urls = o.cluster !== undefined ? o.cluster.nodes : o.url !== undefined ? [o.url] : []
  const nodes = parsedAll(urls)
  if (o.cluster !== undefined && nodes.length > 1) {
    const [first] = nodes
    if (nodes.some((node) => node.secure !== first!.secure)) {
      issues.push(
        new ConfigIssue({
          field: "cluster.nodes",
          rule: "must all be redis:// or all rediss:// URLs: every node of a cluster is reached the same way"
        })
      )
    }
    if (nodes.some((node) => node.username !== first!.username || node.password !== first!.password)) {
      issues.push(
        new ConfigIssue({
          field: "cluster.nodes",
          rule: "must all carry the same user and password: the client uses one set for every node it discovers"
        })
      )
    }
  }
  if (o.tls !== undefined && !invalidFields.has("url") && !invalidFields.has("cluster")) {
    const secure = nodes.length > 0 ? nodes.every((node) => node.secure) : false
    if (!secure) {
      issues.push(
        new ConfigIssue({
          field: "tls",
          rule: "needs rediss:// URLs: TLS options apply to TLS connections only"
        })
      )
    }
  }
  if (o.tls !== undefined && (o.tls.cert === undefined) !== (o.tls.key === undefined)) {
    issues.push(
      new ConfigIssue({
        field: o.tls.cert === undefined ? "tls.cert" : "tls.key",
        rule: o.tls.cert === undefined ? "is required with tls.key" : "is required with tls.cert"
      })
    )
  }
  return issues
}

/** The default connection: a Redis on this host. @internal */
export const defaultUrl = "redis://localhost:6379"

/**
 * Settings from decoded options that passed `connectionRelations`.
 *
 * @internal
 */
export const connectionSettings = (o: ConnectionOptions): RedisConnectionSettings => {
  const cluster = o.cluster !== undefined
  const parsed = parsedAll(cluster ? o.cluster!.nodes : [o.url ?? defaultUrl])
  const first = parsed[0]!
  return {
    topology: cluster ? "cluster" : "single",
    nodes: parsed.map((node) => node.node),
    tls: first.secure ? { ...o.tls } : undefined,
    username: first.username,
    password: first.password === undefined ? undefined : Redacted.make(first.password),
    database: first.database,
    description: cluster
      ? `cluster ${parsed.map((node) => node.display).join(", ")}`
      : first.display
  }
}
