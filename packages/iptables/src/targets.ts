/**
 * Rule targets: the verdicts and target extensions a `-j` may name without a chain of that name,
 * and the one place that finds a rule's jump in its words.
 */

/** Standard verdicts: never chain names (iptables refuses `:ACCEPT - [0:0]`). */
export const VERDICTS: ReadonlySet<string> = new Set(['ACCEPT', 'DROP', 'QUEUE', 'RETURN']);

/**
 * Verdicts plus the target extensions shipped with iptables 1.8 that a kube-proxy-like ruleset may
 * meet. A `-j` naming anything else must name a chain of the same table.
 */
export const BUILTIN_TARGETS: ReadonlySet<string> = new Set([
  ...VERDICTS,
  'AUDIT', 'CHECKSUM', 'CLASSIFY', 'CLUSTERIP', 'CONNMARK', 'CONNSECMARK', 'CT', 'DNAT', 'DNPT',
  'DSCP', 'ECN', 'HL', 'HMARK', 'IDLETIMER', 'LED', 'LOG', 'MARK', 'MASQUERADE', 'NETMAP', 'NFLOG',
  'NFQUEUE', 'NOTRACK', 'RATEEST', 'REDIRECT', 'REJECT', 'SECMARK', 'SET', 'SNAT', 'SNPT', 'SYNPROXY',
  'TCPMSS', 'TCPOPTSTRIP', 'TEE', 'TOS', 'TPROXY', 'TRACE', 'TTL', 'ULOG',
]);

/** Options whose value is free text: a value such as `-j` after them is not a jump. */
const FREE_TEXT_OPTIONS: ReadonlySet<string> = new Set(['--comment', '--log-prefix', '--nflog-prefix', '--nfacct-name', '--name']);

export interface Jump {
  readonly kind: 'jump' | 'goto';
  readonly target: string;
  /** Index of the `-j`/`-g` word in the rule's args. */
  readonly index: number;
}

/** The rule's `-j`/`-g` (the last one, as iptables keeps the last), or undefined for a rule without one. */
export function findJump(args: readonly string[]): Jump | undefined {
  let found: Jump | undefined;
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (FREE_TEXT_OPTIONS.has(w)) {
      i++;
      continue;
    }
    if (w === '-j' || w === '--jump' || w === '-g' || w === '--goto') {
      const target = args[i + 1];
      if (target !== undefined) found = { kind: w === '-g' || w === '--goto' ? 'goto' : 'jump', target, index: i };
      i++;
    }
  }
  return found;
}

/** The chain a rule jumps or goes to, when its target is not a verdict or target extension. */
export function chainTarget(args: readonly string[]): string | undefined {
  const jump = findJump(args);
  return jump === undefined || BUILTIN_TARGETS.has(jump.target) ? undefined : jump.target;
}
