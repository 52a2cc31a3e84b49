/**
 * A real `redis-server` for the tests that need one: started on a free port
 * in a temporary folder, killed and restarted on demand (empty, since it
 * keeps nothing on disk), hung on demand (`SIGSTOP`, as a Redis stuck in a
 * long command or a paused VM), stopped when the test's scope closes. Extra
 * arguments start it with a password (`--requirepass`) or TLS only
 * (`redisServerWith`).
 *
 * Where the binary is missing, `redisAvailable` is false: suites skip with
 * one notice saying how to install it — unless `CI` is set, where a missing
 * binary fails the run (`.ci/run` installs it).
 */
import type { Scope } from "effect"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { inCI, which } from "../machine.js"

export { inCI, which } from "../machine.js"

/** The `redis-server` binary, if the machine has one. */
export const redisServerBinary = which("redis-server")

/** Whether the Redis suites can run here. */
export const redisAvailable = redisServerBinary !== undefined

const installHint = "install it with `apt-get install redis-server` (Debian), or run `.ci/run`, which installs it"

if (!redisAvailable) {
  if (inCI) {
    throw new Error(`redis-server is not installed, and CI is set: ${installHint}`)
  }
  console.warn(`[effect-resilience] redis-server not found: the Redis test suites are skipped; ${installHint}.`)
}

/** A free TCP port on the loopback interface. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

/** A running (or stopped) test server. */
export interface RedisServer {
  readonly port: number
  /** `redis://127.0.0.1:<port>`, or `rediss://` when it speaks TLS only. */
  readonly url: string
  /** Kills the server at once (SIGKILL), as a crash would. */
  readonly kill: Effect.Effect<void>
  /** Starts the server again on the same port, empty. */
  readonly restart: Effect.Effect<void>
  /**
   * Hangs the server (`SIGSTOP`): it accepts connections but answers nothing
   * until `resume`, or until the current scope closes (before the stores
   * made earlier in the scope close, which wait for their commands).
   */
  readonly hang: Effect.Effect<void, never, Scope.Scope>
  /** Lets a hung server go on (`SIGCONT`): it answers what it was sent meanwhile. */
  readonly resume: Effect.Effect<void>
}

/**
 * Every server still running, and every temporary folder still there. A test
 * that times out never closes its scope, so its servers would outlive the
 * run: they are killed, and the folders removed, when the process exits,
 * whatever becomes of the scopes.
 */
const running = new Set<ChildProcess>()
const folders = new Set<string>()
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL")
  for (const dir of folders) rmSync(dir, { recursive: true, force: true })
})

/** A new temporary folder, removed when the process exits if nothing removed it before. */
export const temporaryFolder = (prefix: string): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  folders.add(dir)
  return dir
}

/**
 * Starts `redis-server` on `port` with its data in `dir`, and resolves once
 * it says it accepts connections (its log goes to standard output): no
 * polling, no sleeping.
 */
export const startRedisServer = (
  port: number,
  dir: string,
  extra: ReadonlyArray<string> = [],
  tls = false
): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const listen = tls ? ["--port", "0", "--tls-port", String(port)] : ["--port", String(port)]
    const child = spawn(
      redisServerBinary!,
      [...listen, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, ...extra],
      { stdio: ["ignore", "pipe", "ignore"] }
    )
    running.add(child)
    child.once("exit", () => running.delete(child))
    let log = ""
    const onData = (chunk: Buffer) => {
      log += chunk.toString()
      if (log.includes("Ready to accept connections")) {
        child.stdout!.off("data", onData)
        child.stdout!.resume()
        resolve(child)
      }
    }
    child.stdout!.on("data", onData)
    child.once("error", reject)
    child.once("exit", (code) =>
      reject(new Error(`redis-server on port ${port} exited (${code}) before it was ready:\n${log}`)))
  })

/** How to start a test server. */
export interface RedisServerOptions {
  /** More `redis-server` arguments, such as `["--requirepass", "pw"]`. */
  readonly args?: ReadonlyArray<string>
  /** TLS only (`--port 0 --tls-port <port>`): give `--tls-cert-file` and the rest in `args`. */
  readonly tls?: boolean
}

/**
 * Starts a `redis-server` with `options` for the current scope.
 */
export const redisServerWith = (options: RedisServerOptions): Effect.Effect<RedisServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const port = await freePort()
      const dir = temporaryFolder("effect-resilience-redis-")
      const tls = options.tls === true
      const args = options.args ?? []
      let child = await startRedisServer(port, dir, args, tls).catch((error) => {
        rmSync(dir, { recursive: true, force: true })
        throw error
      })
      const stop = () =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          child.once("exit", () => resolve())
          child.kill("SIGKILL")
        })
      const resume = Effect.sync(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGCONT")
      })
      const server: RedisServer & { readonly close: () => Promise<void> } = {
        port,
        url: `${tls ? "rediss" : "redis"}://127.0.0.1:${port}`,
        kill: Effect.promise(stop),
        hang: Effect.acquireRelease(Effect.sync(() => void child.kill("SIGSTOP")), () => resume),
        resume,
        restart: Effect.promise(async () => {
          await stop()
          child = await startRedisServer(port, dir, args, tls)
        }),
        close: async () => {
          await stop()
          rmSync(dir, { recursive: true, force: true })
        }
      }
      return server
    }),
    (server) => Effect.promise(() => (server as RedisServer & { readonly close: () => Promise<void> }).close())
  )

/**
 * Starts a `redis-server` for the current scope.
 */
export const redisServer: Effect.Effect<RedisServer, never, Scope.Scope> = redisServerWith({})
