/**
 * A real Redis Cluster for the tests that need one: three masters started
 * on free ports in a temporary folder (`redis-server --cluster-enabled yes`)
 * and joined with `redis-cli --cluster create`. A test can add a replica to
 * a master, move a slot to another master, or kill a master and let its
 * replica take over. Every process is killed and the folder removed when the
 * scope closes.
 *
 * Waiting is polling a real server with a bounded deadline (the cluster
 * agrees in its own time), never a sleep standing for logical time.
 *
 * Where `redis-cli` is missing, `clusterAvailable` is false: cluster suites
 * skip with one notice — unless `CI` is set, where it fails the run.
 */
import type { Scope } from "effect"
import { Effect } from "effect"
import type { ChildProcess } from "node:child_process"
import { execFile } from "node:child_process"
import { mkdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import { freePort, inCI, redisAvailable, startRedisServer, temporaryFolder, which } from "./server.js"

/** The `redis-cli` binary, if the machine has one. */
export const redisCliBinary = which("redis-cli")

/** Whether the cluster suites can run here. */
export const clusterAvailable = redisAvailable && redisCliBinary !== undefined

if (redisAvailable && redisCliBinary === undefined) {
  const hint = "redis-cli comes with redis-server (`apt-get install redis-server` on Debian; `.ci/run` installs it)"
  if (inCI) throw new Error(`redis-cli is not installed, and CI is set: ${hint}`)
  console.warn(`[effect-resilience] redis-cli not found: the Redis Cluster suites are skipped; ${hint}.`)
}

/** One node of the test cluster. */
export interface ClusterNode {
  readonly port: number
  readonly url: string
  /** The node's cluster id. */
  readonly id: string
}

/** A running test cluster. */
export interface RedisCluster {
  /** The temporary folder of its nodes (removed when the scope closes). */
  readonly dir: string
  /** The masters it started with. */
  readonly masters: ReadonlyArray<ClusterNode>
  /** Their URLs, to seed a client. */
  readonly urls: ReadonlyArray<string>
  /** Runs one command on one node (no redirection) and answers its output. */
  readonly command: (port: number, ...args: ReadonlyArray<string>) => Promise<string>
  /** The slot of a key. */
  readonly slotOf: (key: string) => Promise<number>
  /** The node that serves `slot` now, as the node at `askPort` sees it. */
  readonly ownerOf: (slot: number, askPort?: number) => Promise<ClusterNode>
  /** Moves `slot`, and the keys in it, to `to` (`CLUSTER SETSLOT` and `MIGRATE`). */
  readonly moveSlot: (slot: number, to: ClusterNode) => Promise<void>
  /** Starts a node and makes it a replica of `master`, in sync. */
  readonly addReplica: (master: ClusterNode) => Promise<ClusterNode>
  /** Kills `master` (SIGKILL) and has `replica` take over its slots at once (`CLUSTER FAILOVER TAKEOVER`). */
  readonly failOver: (master: ClusterNode, replica: ClusterNode) => Promise<void>
}

const cli = (port: number, args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(redisCliBinary!, ["-h", "127.0.0.1", "-p", String(port), ...args], (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`redis-cli -p ${port} ${args.join(" ")}: ${stderr || error.message}`))
      else resolve(stdout.trim())
    })
  })

// Real time: a cluster forms (nodes meet, slots are assigned, a replica takes over) in real I/O that
// no TestClock moves, so the harness polls the real servers, with a bounded deadline.
const realPause = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis)) // real clock: cluster formation is real I/O

/** Polls `check` every 50 ms until it holds, for at most 30 seconds. */
const until = async (what: string, check: () => Promise<boolean>): Promise<void> => {
  const deadline = Date.now() + 30_000
  let last: unknown = undefined
  while (Date.now() < deadline) {
    try {
      if (await check()) return
    } catch (error) {
      last = error
    }
    await realPause(50)
  }
  throw new Error(
    `the test cluster did not get there in 30 s: ${what}${last === undefined ? "" : ` (last error: ${String(last)})`}`
  )
}

/** One `CLUSTER NODES` line, read. */
interface NodeLine {
  readonly id: string
  readonly port: number
  readonly flags: ReadonlyArray<string>
  readonly master: string
  readonly slots: ReadonlyArray<readonly [number, number]>
}

const readNodes = (text: string): Array<NodeLine> =>
  text.split("\n").filter((line) => line.trim() !== "").map((line) => {
    const [id, address, flags, master, , , , , ...slots] = line.trim().split(" ")
    return {
      id: id!,
      port: Number(address!.split("@")[0]!.split(":")[1]),
      flags: flags!.split(","),
      master: master!,
      slots: slots.filter((range) => !range.startsWith("[")).map((range) => {
        const [from, to] = range.split("-")
        return [Number(from), Number(to ?? from)] as const
      })
    }
  })

/** The arguments of a cluster node, each in a folder of its own. */
const nodeArgs = (dir: string, busPort: number) => {
  mkdirSync(dir, { recursive: true })
  return [
    "--cluster-enabled",
    "yes",
    "--cluster-port",
    String(busPort),
    "--cluster-config-file",
    join(dir, "nodes.conf"),
    // A dead master is noticed within a second (a takeover does not wait for it).
    "--cluster-node-timeout",
    "1000",
    // A new replica syncs at once, not after the default 5 seconds' wait for more replicas.
    "--repl-diskless-sync-delay",
    "0"
  ]
}

/**
 * Starts a three-master Redis Cluster for the current scope.
 */
export const redisCluster: Effect.Effect<RedisCluster, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    const dir = temporaryFolder("effect-resilience-cluster-")
    const children: Array<ChildProcess> = []
    const byPort = new Map<number, ChildProcess>()
    const busPorts = new Map<number, number>()
    const close = async () => {
      await Promise.all(children.map((child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve()
          child.once("exit", () => resolve())
          child.kill("SIGKILL")
        })
      ))
      rmSync(dir, { recursive: true, force: true })
    }
    const startNode = async (): Promise<number> => {
      const port = await freePort()
      let busPort = await freePort()
      while (busPort === port) busPort = await freePort()
      const nodeDir = join(dir, String(port))
      const child = await startRedisServer(port, nodeDir, nodeArgs(nodeDir, busPort))
      children.push(child)
      byPort.set(port, child)
      busPorts.set(port, busPort)
      return port
    }
    try {
      const ports = [await startNode(), await startNode(), await startNode()]
      await execFileAsync(redisCliBinary!, [
        "--cluster",
        "create",
        ...ports.map((port) => `127.0.0.1:${port}`),
        "--cluster-yes"
      ])
      for (const port of ports) {
        await until(
          `cluster_state:ok on ${port}`,
          async () => (await cli(port, ["CLUSTER", "INFO"])).includes("cluster_state:ok")
        )
      }
      const idOf = async (port: number) => cli(port, ["CLUSTER", "MYID"])
      const nodeAt = async (port: number): Promise<ClusterNode> => ({
        port,
        url: `redis://127.0.0.1:${port}`,
        id: await idOf(port)
      })
      const masters = await Promise.all(ports.map(nodeAt))
      const nodesSeenBy = async (port: number) => readNodes(await cli(port, ["CLUSTER", "NODES"]))
      const ownerOf = async (slot: number, askPort = masters[0]!.port): Promise<ClusterNode> => {
        const owner = (await nodesSeenBy(askPort)).find((node) =>
          node.flags.includes("master") && !node.flags.includes("fail") &&
          node.slots.some(([from, to]) => slot >= from && slot <= to)
        )
        if (owner === undefined) throw new Error(`no node serves slot ${slot}`)
        return { port: owner.port, url: `redis://127.0.0.1:${owner.port}`, id: owner.id }
      }
      const cluster: RedisCluster & { readonly close: () => Promise<void> } = {
        dir,
        masters,
        urls: masters.map((node) => node.url),
        command: (port, ...args) => cli(port, args),
        slotOf: async (key) => Number(await cli(masters[0]!.port, ["CLUSTER", "KEYSLOT", key])),
        ownerOf,
        moveSlot: async (slot, to) => {
          const from = await ownerOf(slot)
          if (from.id === to.id) return
          await cli(to.port, ["CLUSTER", "SETSLOT", String(slot), "IMPORTING", from.id])
          await cli(from.port, ["CLUSTER", "SETSLOT", String(slot), "MIGRATING", to.id])
          for (;;) {
            const keys = (await cli(from.port, ["CLUSTER", "GETKEYSINSLOT", String(slot), "100"]))
              .split("\n").filter((key) => key !== "")
            if (keys.length === 0) break
            await cli(from.port, ["MIGRATE", "127.0.0.1", String(to.port), "", "0", "5000", "KEYS", ...keys])
          }
          // The new owner first, then the old one, then everyone else: the order Redis documents.
          const rest = masters.filter((node) => node.id !== from.id && node.id !== to.id)
          for (const node of [to, from, ...rest]) {
            await cli(node.port, ["CLUSTER", "SETSLOT", String(slot), "NODE", to.id])
          }
          for (const node of masters) {
            await until(
              `slot ${slot} on ${to.port} as ${node.port} sees it`,
              async () => (await ownerOf(slot, node.port)).id === to.id
            )
          }
        },
        addReplica: async (master) => {
          const port = await startNode()
          const replica = await nodeAt(port)
          // The bus port is not the default (port + 10000): MEET names it.
          await cli(port, ["CLUSTER", "MEET", "127.0.0.1", String(master.port), String(busPorts.get(master.port))])
          await until(
            `${port} knows ${master.port}`,
            async () => (await nodesSeenBy(port)).some((node) => node.id === master.id)
          )
          await until(
            `${port} accepts to replicate ${master.port}`,
            async () => (await cli(port, ["CLUSTER", "REPLICATE", master.id])) === "OK"
          )
          await until(
            `${port} replicates ${master.port}`,
            async () => (await cli(port, ["INFO", "replication"])).includes("master_link_status:up")
          )
          for (const node of masters) {
            await until(
              `${node.port} knows the replica ${port}`,
              async () =>
                (await nodesSeenBy(node.port)).some((seen) => seen.id === replica.id && seen.master === master.id)
            )
          }
          return replica
        },
        failOver: async (master, replica) => {
          const child = byPort.get(master.port)!
          await new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve()
            child.once("exit", () => resolve())
            child.kill("SIGKILL")
          })
          await cli(replica.port, ["CLUSTER", "FAILOVER", "TAKEOVER"])
          const survivors = masters.filter((node) => node.id !== master.id)
          for (const node of [replica, ...survivors]) {
            await until(`${node.port} sees ${replica.port} as a master, and the cluster ok`, async () => {
              const seen = (await nodesSeenBy(node.port)).find((line) => line.id === replica.id)
              return seen !== undefined && seen.flags.includes("master") &&
                (await cli(node.port, ["CLUSTER", "INFO"])).includes("cluster_state:ok")
            })
          }
        },
        close
      }
      return cluster
    } catch (error) {
      await close()
      throw error
    }
  }),
  (cluster) => Effect.promise(() => (cluster as RedisCluster & { readonly close: () => Promise<void> }).close())
)

const execFileAsync = (file: string, args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(file, args, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${file} ${args.join(" ")}: ${stderr || stdout || error.message}`))
      else resolve(stdout)
    })
  })
