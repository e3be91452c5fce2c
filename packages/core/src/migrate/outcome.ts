/**
 * One flow's outcome in one mode, reduced to what a client sees: for each way the packet can go,
 * its probability, the verdict, where it is delivered, the endpoint it is DNATed to and whether it
 * is masqueraded. Both tracers' results reduce to this shape, so the two modes compare directly.
 */
import type { TraceResult } from '@svcrules/iptables';
import { addProbability, formatExact, probabilityValue, type Probability } from '@svcrules/iptables';
import type { NftTraceResult } from '@svcrules/nftables';

export interface OutcomeBranch {
  /** Exact, e.g. `1/3` (iptables' statistic probabilities are the kernel's 2^-32 fractions). */
  readonly probability: string;
  readonly share: number;
  readonly verdict: 'ACCEPT' | 'DROP' | 'REJECT' | 'UNKNOWN';
  readonly delivery: 'local' | 'forward' | 'output' | null;
  /** The endpoint `ip:port` of a DNAT, else null. */
  readonly endpoint: string | null;
  readonly masquerade: boolean;
  /** For a packet delivered to the node itself: whether one of kube-proxy's rules accepted it (rather than no rule at all). */
  readonly accepted: 'rule' | 'no rule' | null;
}

export interface ModeOutcome {
  /** Sorted by endpoint, then verdict. */
  readonly branches: readonly OutcomeBranch[];
}

interface AnyOutcome {
  readonly probability: Probability;
  readonly verdict: OutcomeBranch['verdict'];
  readonly delivery: OutcomeBranch['delivery'];
  readonly dnat: { readonly to: string } | null;
  readonly masquerade: unknown;
  readonly decidedBy: { readonly rule: unknown } | object | null;
}

/**
 * The branch with `probability` printed on first read: a 2048-endpoint ladder's fractions have
 * 60,000-bit denominators, and only the flows that differ are ever printed.
 */
function exactLater(p: Probability, rest: Omit<OutcomeBranch, 'probability'>): OutcomeBranch {
  let text: string | undefined;
  return Object.defineProperty({ ...rest }, 'probability', { enumerable: true, get: () => (text ??= formatExact(p)) }) as OutcomeBranch;
}

function reduce(outcomes: readonly AnyOutcome[]): ModeOutcome {
  const merged = new Map<string, { p: Probability; b: Omit<OutcomeBranch, 'probability' | 'share'> }>();
  for (const o of outcomes) {
    const b = {
      verdict: o.verdict,
      delivery: o.delivery,
      endpoint: o.dnat?.to ?? null,
      masquerade: o.masquerade !== null,
      accepted: o.verdict === 'ACCEPT' && o.delivery === 'local' ? (o.decidedBy !== null && 'rule' in o.decidedBy ? 'rule' : 'no rule') : null,
    } as const;
    const key = JSON.stringify(b);
    const prev = merged.get(key);
    merged.set(key, { p: prev ? addProbability(prev.p, o.probability) : o.probability, b });
  }
  const branches = [...merged.values()].map(({ p, b }) => exactLater(p, { share: probabilityValue(p), ...b }));
  const key = (b: OutcomeBranch) => `${b.endpoint ?? ''}\u0000${b.verdict}\u0000${b.masquerade}\u0000${b.delivery}\u0000${b.accepted}`;
  branches.sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0));
  return { branches };
}

export function iptablesOutcome(result: TraceResult): ModeOutcome {
  return reduce(result.outcomes);
}

/**
 * The nftables tracer forks an affinity lookup into "no entry" and "an entry for this source"; the
 * first packet of a client has none, which is also what the iptables tracer follows.
 */
export function nftablesOutcome(result: NftTraceResult): ModeOutcome {
  return reduce(result.outcomes.filter((o) => !o.given.some((g) => (g.code === 'affinity' || g.code === 'dynamic-set') && g.holds)));
}

/** Same branches, probabilities equal up to iptables' 2^-32 statistic steps. */
export function sameOutcome(a: ModeOutcome, b: ModeOutcome): boolean {
  if (a.branches.length !== b.branches.length) return false;
  return a.branches.every((x, i) => {
    const y = b.branches[i]!;
    return Math.abs(x.share - y.share) < 1e-6 && x.verdict === y.verdict && x.delivery === y.delivery && x.endpoint === y.endpoint && x.masquerade === y.masquerade && x.accepted === y.accepted;
  });
}

/** `10.180.0.1:80 (1/2, masqueraded)` ..., or the verdict: a line a person reads. */
export function describeOutcome(o: ModeOutcome): string {
  return o.branches
    .map((b) => {
      const p = b.probability === '1' ? '' : `${b.probability}: `;
      const masq = b.masquerade ? ', masqueraded' : '';
      if (b.endpoint !== null && b.verdict === 'ACCEPT') return `${p}to ${b.endpoint}${masq}`;
      if (b.verdict === 'ACCEPT') return `${p}accepted, ${b.delivery === 'local' ? `delivered to the node itself (${b.accepted === 'rule' ? "kube-proxy's rule accepts it" : 'no kube-proxy rule'})` : b.delivery === 'forward' ? 'forwarded untranslated' : 'sent untranslated'}${masq}`;
      return `${p}${b.verdict === 'REJECT' ? 'rejected' : b.verdict === 'DROP' ? 'dropped' : 'unknown'}${b.endpoint !== null ? ` after DNAT to ${b.endpoint}` : ''}`;
    })
    .join('; ');
}
