/**
 * The nftables packet tracer: follows the first packet of a new connection through every base
 * chain of every table (by hook, then priority) the way the kernel runs them, and returns each
 * possible outcome with its exact probability. `numgen random mod N` forks into its N values;
 * a dynamic set (kube-proxy's session-affinity sets) forks into "no entry" and "entry for this
 * source"; a match on something the packet does not say (an interface, the source port) forks
 * into both answers, labelled. A statement the tracer does not model ends its branch as UNKNOWN,
 * naming the rule: never a guess.
 */
export * from './result.js';
export { tracePacketNft } from './walk.js';
export { parseStatements, type Stmt, type Selector } from './rule.js';
