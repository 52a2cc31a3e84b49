/**
 * A real `redis-server` for the tests that need one: started on a free port
 * in a temporary folder, killed and restarted on demand (empty, since it
 * keeps nothing on disk), hung on demand (`SIGSTOP`, as a Redis stuck in a
 * long command or a paused VM), stopped when the test's scope closes.
 *
 * Where the binary is missing, `redisAvailable` is false: suites skip with
 * one notice saying how to install it — unless `CI` is set, where a missing
 * binary fails the run (`.ci/run` installs it).
 */
import type { Scope } from "effect"
import { Effect } from "effect"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

const binary = (): string | undefined => {
  try {
    return execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim() || undefined
  } catch {
    return undefined
  }
}

/** The `redis-server` binary, if the machine has one. */
export const redisServerBinary = binary()

/** Whether the Redis suites can run here. */
export const redisAvailable = redisServerBinary !== undefined

const installHint = "install it with `apt-get install redis-server` (Debian), or run `.ci/run`, which installs it"

if (!redisAvailable) {
  if (process.env.CI !== undefined && process.env.CI !== "" && process.env.CI !== "false") {
    throw new Error(`redis-server is not installed, and CI is set: ${installHint}`)
  }
  console.warn(`[effect-resilience] redis-server not found: the Redis test suites are skipped; ${installHint}.`)
}

/** A free TCP port on the loopback interface. */
const freePort = (): Promise<number> =>
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
 * Starts the server and resolves once it says it accepts connections (its
 * log goes to standard output): no polling, no sleeping.
 */
const start = (port: number, dir: string): Promise<ChildProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      redisServerBinary!,
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
      { stdio: ["ignore", "pipe", "ignore"] }
    )
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

/**
 * Starts a `redis-server` for the current scope.
 */
export const redisServer: Effect.Effect<RedisServer, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    const port = await freePort()
    const dir = mkdtempSync(join(tmpdir(), "effect-resilience-redis-"))
    let child = await start(port, dir)
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
      url: `redis://127.0.0.1:${port}`,
      kill: Effect.promise(stop),
      hang: Effect.acquireRelease(Effect.sync(() => void child.kill("SIGSTOP")), () => resume),
      resume,
      restart: Effect.promise(async () => {
        await stop()
        child = await start(port, dir)
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
