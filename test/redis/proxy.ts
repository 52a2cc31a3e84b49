/**
 * A TCP proxy in front of the test server, to play a network that drops
 * packets: `blackhole` makes the connections open now go silent both ways
 * (their sockets stay open, so neither end notices), while connections made
 * afterwards are forwarded as usual. This is a connection that died
 * silently, as behind a NAT or a firewall that forgot it.
 */
import type { Scope } from "effect"
import { Effect } from "effect"
import { connect, createServer, type Socket } from "node:net"

export interface TcpProxy {
  readonly url: string
  /** The connections open now stop forwarding anything, silently; new ones are forwarded. */
  readonly blackhole: Effect.Effect<void>
  /** How many connections are open through the proxy. */
  readonly open: Effect.Effect<number>
  /** Waits until exactly `n` connections are open through the proxy. */
  readonly awaitOpen: (n: number) => Effect.Effect<void>
}

interface Pair {
  readonly client: Socket
  readonly upstream: Socket
  silent: boolean
}

/** Starts a proxy to `127.0.0.1:port` for the current scope. */
export const tcpProxy = (port: number): Effect.Effect<TcpProxy, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<TcpProxy & { readonly close: () => void }>((resolve, reject) => {
        const pairs = new Set<Pair>()
        const waiters = new Set<() => void>()
        const changed = () => {
          for (const waiter of waiters) waiter()
        }
        const server = createServer((client) => {
          const upstream = connect(port, "127.0.0.1")
          const pair: Pair = { client, upstream, silent: false }
          pairs.add(pair)
          changed()
          client.on("data", (data) => {
            if (!pair.silent) upstream.write(data)
          })
          upstream.on("data", (data) => {
            if (!pair.silent) client.write(data)
          })
          const end = () => {
            client.destroy()
            upstream.destroy()
            if (pairs.delete(pair)) changed()
          }
          client.on("close", end).on("error", end)
          upstream.on("close", end).on("error", end)
        })
        server.once("error", reject)
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          const proxyPort = typeof address === "object" && address !== null ? address.port : 0
          resolve({
            url: `redis://127.0.0.1:${proxyPort}`,
            blackhole: Effect.sync(() => {
              for (const pair of pairs) pair.silent = true
            }),
            open: Effect.sync(() => pairs.size),
            awaitOpen: (n) =>
              Effect.callback<void>((resume) => {
                const waiter = () => {
                  if (pairs.size !== n) return
                  waiters.delete(waiter)
                  resume(Effect.void)
                }
                waiters.add(waiter)
                waiter()
                return Effect.sync(() => void waiters.delete(waiter))
              }),
            close: () => {
              server.close()
              for (const pair of pairs) {
                pair.client.destroy()
                pair.upstream.destroy()
              }
            }
          })
        })
      })
    ),
    (proxy) => Effect.sync(() => proxy.close())
  )
