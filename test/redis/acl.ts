/**
 * The ACL rules docs/redis.md gives operators, for the default prefix: the
 * store's keys and channel only, the commands the store sends (`EVALSHA`,
 * `SCRIPT LOAD`, `SUBSCRIBE`, and `PING` to check a connection) and those
 * its script calls; on a cluster, the commands the cluster client adds.
 * The tests use these very strings, and check that the page shows them.
 */

/** The commands of a user on one server. */
export const aclCommands =
  "-@all +evalsha +script|load +ping +subscribe +hgetall +hget +hmget +hlen +hset +hdel +del +type +lindex +lrange +lpush +lpop +lset +ltrim +rpop +rpush +rpoplpush +llen +pexpire +publish +scan +zadd +zremrangebyscore +zcount +zrem"

/** What a cluster's user needs more: the slot map (`CLUSTER SLOTS`), and `ASKING` while a slot moves. */
export const aclClusterCommands = "+cluster|slots +asking"

/** The whole rule, as an operator copies it (with a password of theirs). */
export const aclRule =
  `ACL SETUSER circuits on >CHANGE-ME resetkeys ~effect-resilience:circuit:* resetchannels &effect-resilience:circuit:transitions ${aclCommands}`

/** The rule's arguments, with `password`, for `send`. */
export const aclArguments = (password: string, cluster = false): ReadonlyArray<string> =>
  `${aclRule}${cluster ? ` ${aclClusterCommands}` : ""}`.replace(">CHANGE-ME", `>${password}`).split(" ")
