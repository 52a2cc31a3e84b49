/**
 * Throwaway TLS material for the tests that start a TLS-only `redis-server`:
 * a certificate authority, a server certificate for `127.0.0.1` signed by
 * it, and a client certificate, made with `openssl` in a temporary folder
 * that is removed when the scope closes.
 *
 * Where `openssl` is missing, `tlsAvailable` is false: TLS suites skip with
 * one notice — unless `CI` is set, where it fails the run.
 */
import type { Scope } from "effect"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { inCI, redisAvailable, temporaryFolder, which } from "./server.js"

/** The `openssl` binary, if the machine has one. */
export const opensslBinary = which("openssl")

/** Whether the TLS suites can run here. */
export const tlsAvailable = redisAvailable && opensslBinary !== undefined

if (redisAvailable && opensslBinary === undefined) {
  const hint = "install it with `apt-get install openssl` (Debian)"
  if (inCI) throw new Error(`openssl is not installed, and CI is set: ${hint}`)
  console.warn(`[effect-resilience] openssl not found: the Redis TLS suites are skipped; ${hint}.`)
}

/** The files, and the PEM texts a client needs. */
export interface TlsMaterial {
  readonly dir: string
  /** The CA's certificate, as PEM text (what `tls.ca` takes). */
  readonly ca: string
  /** A client certificate and its key, signed by the CA, as PEM text. */
  readonly clientCert: string
  readonly clientKey: string
  /** `redis-server` arguments for TLS with this material; `authClients`: ask clients for a certificate. */
  readonly serverArgs: (authClients: boolean) => ReadonlyArray<string>
}

const openssl = (dir: string, args: ReadonlyArray<string>): Promise<void> =>
  new Promise((resolve, reject) => {
    execFile(opensslBinary!, args, { cwd: dir }, (error, _stdout, stderr) => {
      if (error !== null) reject(new Error(`openssl ${args.join(" ")}: ${stderr || error.message}`))
      else resolve()
    })
  })

/** A key pair on P-256 (fast to make), and a signing request for `subject`. */
const request = (dir: string, name: string, subject: string) =>
  openssl(dir, [
    "req",
    "-new",
    "-nodes",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    subject
  ])

const sign = (dir: string, name: string, extensions: string) => {
  writeFileSync(join(dir, `${name}.ext`), extensions)
  return openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "1",
    "-out",
    `${name}.crt`,
    "-extfile",
    `${name}.ext`
  ])
}

/**
 * Makes the CA, the server's and a client's certificates for the current
 * scope.
 */
export const tlsMaterial: Effect.Effect<TlsMaterial, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    const dir = temporaryFolder("effect-resilience-tls-")
    try {
      await openssl(dir, [
        "req",
        "-x509",
        "-new",
        "-nodes",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "1",
        "-subj",
        "/CN=effect-resilience test CA"
      ])
      await request(dir, "server", "/CN=localhost")
      await sign(dir, "server", "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
      await request(dir, "client", "/CN=circuits")
      await sign(dir, "client", "extendedKeyUsage=clientAuth\n")
      const file = (name: string) => join(dir, name)
      return {
        dir,
        ca: readFileSync(file("ca.crt"), "utf8"),
        clientCert: readFileSync(file("client.crt"), "utf8"),
        clientKey: readFileSync(file("client.key"), "utf8"),
        serverArgs: (authClients: boolean) => [
          "--tls-cert-file",
          file("server.crt"),
          "--tls-key-file",
          file("server.key"),
          "--tls-ca-cert-file",
          file("ca.crt"),
          "--tls-auth-clients",
          authClients ? "yes" : "no"
        ]
      }
    } catch (error) {
      rmSync(dir, { recursive: true, force: true })
      throw error
    }
  }),
  (material) => Effect.sync(() => rmSync(material.dir, { recursive: true, force: true }))
)
