/**
 * Bearer tokens of the admin routes: the rules a configured token follows,
 * and the check of a request's `Authorization` header in constant time.
 *
 * The check compares SHA-256 digests of the expected and the given token
 * with `timingSafeEqual`: the digests have equal lengths whatever the given
 * token, so neither a token's length nor how many of its first characters
 * are right shows in the time the answer takes.
 *
 * @internal
 */
import { createHash, timingSafeEqual } from "node:crypto"

/** The shortest token accepted (characters): a guessable token protects nothing. @internal */
export const minTokenLength = 16

/** The longest token accepted (characters). @internal */
export const maxTokenLength = 4096

// RFC 6750's b64token: the characters a token may have to travel in an Authorization header.
const tokenSyntax = /^[A-Za-z0-9\-._~+/]+=*$/

/** The rule a configured token breaks, if any. @internal */
export const tokenProblem = (token: string): string | undefined => {
  if (token.length < minTokenLength) return `must be at least ${minTokenLength} characters (got ${token.length})`
  if (token.length > maxTokenLength) return `must be at most ${maxTokenLength} characters (got ${token.length})`
  if (!tokenSyntax.test(token)) {
    return "must use only letters, digits and - . _ ~ + / (then = signs), as a bearer token (RFC 6750)"
  }
  return undefined
}

const digest = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

/** What a request's credentials are: right, absent (or not a bearer token), or wrong. @internal */
export type Verdict = "ok" | "missing" | "invalid"

const bearer = /^Bearer +(\S+) *$/i

/**
 * The check of `Authorization` headers against `token`. Its digest is made
 * once; each request's token is hashed and compared in constant time.
 *
 * @internal
 */
export const bearerCheck = (token: string): (authorization: string | undefined) => Verdict => {
  const expected = digest(token)
  return (authorization) => {
    if (authorization === undefined) return "missing"
    const match = bearer.exec(authorization)
    if (match === null) return "missing"
    return timingSafeEqual(digest(match[1]!), expected) ? "ok" : "invalid"
  }
}
