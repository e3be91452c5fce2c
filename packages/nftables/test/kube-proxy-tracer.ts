/**
 * kube-proxy's own packet tracer for its nftables unit tests (`nftablesTracer`, `tracePacket`,
 * `runChain` in pkg/proxy/nftables/helpers_test.go), reproduced as a reference: a string-pattern
 * walk of filter-prerouting-pre-dnat, nat-prerouting, filter-forward and filter-input that reports
 * the DNAT destinations (all numgen targets), DROP, REJECT or "" and whether
 * `jump mark-for-masquerade` was hit. Like the Go helper it fails on a rule it does not read (for
 * example the session-affinity lookup `ip saddr @affinity-…`).
 */
import type { NftRuleset } from '../src/ir.js';

export interface KubeProxyTrace {
  readonly output: string;
  readonly masq: boolean;
}

interface State {
  outputs: string[];
  masq: boolean;
}

function inCidrOrEqual(ipText: string, target: string): boolean {
  const toBig = (t: string): [number, bigint] | null => {
    if (/^\d+\.\d+\.\d+\.\d+$/.test(t)) return [32, t.split('.').reduce((a, o) => (a << 8n) | BigInt(Number(o)), 0n)];
    if (t.includes(':')) {
      const [h, l = ''] = t.split('::') as [string, string?];
      const hs = h === '' ? [] : h.split(':');
      const ls = l === '' ? [] : l.split(':');
      const all = t.includes('::') ? [...hs, ...Array<string>(8 - hs.length - ls.length).fill('0'), ...ls] : hs;
      return [128, all.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n)];
    }
    return null;
  };
  const [net, len] = target.split('/') as [string, string?];
  const a = toBig(ipText);
  const b = toBig(net);
  if (!a || !b) throw new Error(`kube-proxy tracer: cannot parse ${JSON.stringify(target)} as an IP or CIDR`);
  if (a[0] !== b[0]) return false;
  if (len === undefined) return a[1] === b[1];
  const shift = BigInt(a[0] - Number(len));
  return a[1] >> shift === b[1] >> shift;
}

/** Traces like `tracePacket(t, nft, sourceIP, protocol, destIP, destPort, nodeIPs)` of helpers_test.go. */
export function kubeProxyTrace(rs: NftRuleset, src: string, protocol: string, dst: string, dport: number, nodeIPs: readonly string[]): KubeProxyTrace {
  const st: State = { outputs: [], masq: false };
  const rulesOf = (chain: string) => rs.rules.filter((r) => r.chain === chain).map((r) => r.words.join(' '));
  const elements = (name: string) => rs.elements.filter((e) => e.container === name);

  /** runChain: true when the packet was terminated (DNAT, DROP or REJECT). */
  const runChain = (chain: string, dstIP: string): boolean => {
    if (!rs.chains.some((c) => c.name === chain)) throw new Error(`kube-proxy tracer: unknown chain ${chain}`);
    for (const full of rulesOf(chain)) {
      let rule = full.replace(/^ct state new /, '');
      for (;;) {
        let m: RegExpExecArray | null;
        if ((m = /^ip6* daddr @(\S+)/.exec(rule))) {
          if (!elements(m[1]!).some((e) => e.key[0] === dstIP)) break;
        } else if ((m = /^ip6* daddr \. meta l4proto \. th dport vmap @(\S+)$/.exec(rule))) {
          const el = elements(m[1]!).find((e) => e.key[0] === dstIP && e.key[1] === protocol && e.key[2] === String(dport));
          if (!el) break;
          rule = el.value!.join(' . ');
          continue;
        } else if ((m = /^meta l4proto \. th dport vmap @(\S+)$/.exec(rule))) {
          const el = elements(m[1]!).find((e) => e.key[0] === protocol && e.key[1] === String(dport));
          if (!el) break;
          rule = el.value!.join(' . ');
          continue;
        } else if ((m = /^ip6* daddr (!= )?\{([^}]*)\}/.exec(rule))) {
          const items = m[2]!.replace(/ /g, '').split(',');
          const ok = m[1] ? items.every((c) => !inCidrOrEqual(dstIP, c)) : items.every((c) => inCidrOrEqual(dstIP, c));
          if (!ok) break;
        } else if ((m = /^ip6* daddr (!= )?(\S+)/.exec(rule))) {
          if (inCidrOrEqual(dstIP, m[2]!) === Boolean(m[1])) break;
        } else if ((m = /^fib daddr type local/.exec(rule))) {
          if (!nodeIPs.includes(dstIP)) break;
        } else if ((m = /^(tcp|udp|sctp) dport (\d+)/.exec(rule))) {
          if (m[1] !== protocol || Number(m[2]) !== dport) break;
        } else if ((m = /^ip6* saddr (!= )?\{([^}]*)\}/.exec(rule))) {
          const items = m[2]!.replace(/ /g, '').split(',');
          const ok = m[1] ? items.every((c) => !inCidrOrEqual(src, c)) : items.every((c) => inCidrOrEqual(src, c));
          if (!ok) break;
        } else if ((m = /^ip6* saddr (!= )?(\S+)/.exec(rule))) {
          if (inCidrOrEqual(src, m[2]!) === Boolean(m[1])) break;
        } else if ((m = /^fib saddr type local/.exec(rule))) {
          if (!nodeIPs.includes(src)) break;
        } else if ((m = /^jump mark-for-masquerade$/.exec(rule))) {
          st.masq = true;
          break;
        } else if ((m = /^(jump|goto) (\S+)$/.exec(rule))) {
          if (runChain(m[2]!, dstIP)) return true;
          if (m[1] === 'goto') return false;
          break;
        } else if ((m = /^(drop|reject)$/.exec(rule))) {
          st.outputs.push(m[1]!.toUpperCase());
          return true;
        } else if (/^return$/.test(rule)) {
          return false;
        } else if ((m = /^meta l4proto (tcp|udp|sctp) dnat to (\S+)$/.exec(rule))) {
          st.outputs.push(m[2]!);
          return true;
        } else if ((m = /^numgen random mod \d+ vmap \{(.*)\}$/.exec(rule))) {
          for (const entry of m[1]!.split(',')) {
            const t = /^\s*\d+ : goto (\S+)\s*$/.exec(entry);
            if (!t) throw new Error(`kube-proxy tracer: bad numgen entry ${JSON.stringify(entry)}`);
            runChain(t[1]!, dstIP);
          }
          return true;
        } else {
          throw new Error(`kube-proxy tracer: unmatched rule ${JSON.stringify(full)}`);
        }
        rule = rule.slice(m[0].length).trimStart();
        if (rule === '') break;
      }
    }
    return false;
  };

  if (runChain('filter-prerouting-pre-dnat', dst)) return { output: st.outputs.join(', '), masq: st.masq };
  runChain('nat-prerouting', dst);
  let d = dst;
  if (st.outputs.length > 0) d = st.outputs[0]!.replace(/^\[?([^\]]*?)\]?:\d+$/, '$1');
  if (!runChain('filter-forward', d)) runChain('filter-input', d);
  return { output: st.outputs.join(', '), masq: st.masq };
}
