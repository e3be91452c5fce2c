/**
 * Generators of kube-proxy-shaped rules (docs/kube-proxy-rules.md 5.2, 5.4, 6, 7) and of freely composed
 * rules, for comparing save-form with the real iptables-save (test helper, not a test).
 */
import fc from 'fast-check';
import type { IPFamily } from '@svcrules/netaddr';
import { probability } from '@svcrules/core';

export interface GeneratedRule {
  /** filter for verdict rules, nat for NAT targets. */
  readonly table: 'filter' | 'nat';
  readonly args: readonly string[];
}

/** Chains the generated rules may jump to; the loaders declare them. */
export const JUMP_CHAINS = ['C', 'KUBE-MARK-MASQ', 'KUBE-SVC-XPGD46QRK7WJZT7O', 'KUBE-SEP-SXIVWICOYRO3J4NJ', 'KUBE-NODEPORTS', 'KUBE-EXT-X27LE4BHSL4DOUIK'];

const octet = fc.integer({ min: 0, max: 255 });
const ipv4 = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
const word16 = fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.integer({ min: 0, max: 0xffff }) });
const ipv6 = fc.oneof(
  { weight: 6, arbitrary: fc.array(word16, { minLength: 8, maxLength: 8 }).map((w) => w.map((x) => x.toString(16)).join(':')) },
  { weight: 1, arbitrary: ipv4.map((v) => `::ffff:${v}`) },
  { weight: 1, arbitrary: fc.constantFrom('::1', '::', 'fd00:10:180::1', 'FD00:0:0::41', '2001:db8::a:0:0:1') },
);

export const ip = (f: IPFamily): fc.Arbitrary<string> => (f === 'IPv4' ? ipv4 : ipv6);
export const cidr = (f: IPFamily): fc.Arbitrary<string> =>
  fc.tuple(ip(f), fc.integer({ min: 1, max: f === 'IPv4' ? 32 : 128 })).map(([a, l]) => `${a}/${l}`);
const addr = (f: IPFamily): fc.Arbitrary<string> => fc.oneof(ip(f), cidr(f));

const commentChars = 'abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-_/:.>;#*+=@ ';
export const comment: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: fc.constantFrom(...commentChars), minLength: 1, maxLength: 60 }),
  fc.constantFrom('ns1/svc1:p80', 'ns1/svc1:p80 cluster IP', 'kubernetes service nodeports; NOTE: this must be the last rule in this chain', 'a_b-9', 'x'),
  fc.string({ unit: fc.constantFrom(...commentChars), minLength: 200, maxLength: 255 }),
);
const proto = fc.constantFrom('tcp', 'udp', 'sctp');
const port = fc.integer({ min: 1, max: 65535 });
const chain = fc.constantFrom(...JUMP_CHAINS);
const mark = fc.integer({ min: 0, max: 31 }).chain((b) => fc.constantFrom(`0x${(2 ** b).toString(16).padStart(8, '0')}`, `0x${(2 ** b).toString(16)}`));
export const probabilityK = fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 100000 }), fc.integer({ min: 0, max: 16 }).map((n) => 2 ** n));
const iface = fc.constantFrom('eth0', 'veth+', 'cni0', 'br-1a2b3c', 'lo', 'ens3.100');

const cm = (c: string) => ['-m', 'comment', '--comment', c];

/** The rule shapes kube-proxy writes (proxier.go syncProxyRules, its jump rules; kube-proxy-rules 5.2 to 7). */
export function kubeProxyRule(f: IPFamily): fc.Arbitrary<GeneratedRule> {
  const nat = (args: string[]): GeneratedRule => ({ table: 'nat', args });
  const filter = (args: string[]): GeneratedRule => ({ table: 'filter', args });
  const lo = f === 'IPv4' ? '127.0.0.0/8' : '::1/128';
  return fc.oneof(
    fc.tuple(comment, proto, ip(f), port, chain).map(([c, p, d, n, j]) => nat([...cm(c), '-m', p, '-p', p, '-d', d, '--dport', `${n}`, '-j', j])),
    fc.tuple(comment, proto, ip(f), port, cidr(f)).map(([c, p, d, n, s]) => nat([...cm(c), '-m', p, '-p', p, '-d', d, '--dport', `${n}`, '!', '-s', s, '-j', 'KUBE-MARK-MASQ'])),
    fc.tuple(comment, proto, ip(f), port, iface).map(([c, p, d, n, i]) => nat([...cm(c), '-m', p, '-p', p, '-d', d, '--dport', `${n}`, '!', '-i', i, '-j', 'KUBE-MARK-MASQ'])),
    fc.tuple(comment, proto, ip(f), port, fc.constantFrom('REJECT', 'DROP')).map(([c, p, d, n, t]) => filter([...cm(c), '-m', p, '-p', p, '-d', d, '--dport', `${n}`, '-j', t])),
    fc.tuple(comment, proto, port, fc.constantFrom('REJECT', 'DROP')).map(([c, p, n, t]) => filter([...cm(c), '-m', 'addrtype', '--dst-type', 'LOCAL', '-m', p, '-p', p, '--dport', `${n}`, '-j', t])),
    fc.tuple(comment, port).map(([c, n]) => filter([...cm(c), '-m', 'tcp', '-p', 'tcp', '--dport', `${n}`, '-j', 'ACCEPT'])),
    fc.tuple(comment, proto, port).map(([c, p, n]) => nat([...cm(c), '-m', p, '-p', p, '--dport', `${n}`, '-j', 'KUBE-EXT-X27LE4BHSL4DOUIK'])),
    fc.tuple(comment, proto, port).map(([c, p, n]) => nat([...cm(c), '-m', p, '-p', p, '-d', lo, '--dport', `${n}`, '-m', 'nfacct', '--nfacct-name', 'localhost_nps_accepted_pkts', '-j', 'KUBE-EXT-X27LE4BHSL4DOUIK'])),
    fc.tuple(comment, ip(f)).map(([c, s]) => nat([...cm(c), '-s', s, '-j', 'KUBE-MARK-MASQ'])),
    fc.tuple(fc.option(comment, { nil: undefined }), proto, ip(f), port, fc.boolean()).map(([c, p, a, n, affinity]) =>
      nat([...(c === undefined ? [] : cm(c)), ...(affinity ? ['-m', 'recent', '--name', 'KUBE-SEP-SXIVWICOYRO3J4NJ', '--set'] : []), '-m', p, '-p', p, '-j', 'DNAT', '--to-destination', f === 'IPv4' ? `${a}:${n}` : `[${a}]:${n}`]),
    ),
    fc.tuple(fc.option(comment, { nil: undefined }), fc.integer({ min: 1, max: 86400 })).map(([c, s]) =>
      nat([...(c === undefined ? [] : cm(c)), '-m', 'recent', '--name', 'KUBE-SEP-SXIVWICOYRO3J4NJ', '--rcheck', '--seconds', `${s}`, '--reap', '-j', 'KUBE-SEP-SXIVWICOYRO3J4NJ']),
    ),
    fc.tuple(fc.option(comment, { nil: undefined }), probabilityK).map(([c, k]) =>
      nat([...(c === undefined ? [] : cm(c)), '-m', 'statistic', '--mode', 'random', '--probability', probability(k), '-j', 'KUBE-SEP-SXIVWICOYRO3J4NJ']),
    ),
    fc.tuple(comment, cidr(f)).map(([c, s]) => nat([...cm(c), '-s', s, '-j', 'KUBE-EXT-X27LE4BHSL4DOUIK'])),
    comment.map((c) => nat([...cm(c)])),
    fc.tuple(comment, iface).map(([c, i]) => nat([...cm(c), '-i', i, '-j', 'KUBE-SVC-XPGD46QRK7WJZT7O'])),
    fc.tuple(comment, fc.constantFrom('--src-type', '--dst-type')).map(([c, t]) => nat([...cm(c), '-m', 'addrtype', t, 'LOCAL', '-j', 'KUBE-MARK-MASQ'])),
    mark.map((m) => nat(['-m', 'mark', '!', '--mark', `${m}/${m}`, '-j', 'RETURN'])),
    mark.map((m) => nat(['-j', 'MARK', '--xor-mark', m])),
    mark.map((m) => nat(['-j', 'MARK', '--or-mark', m])),
    fc.tuple(comment, fc.boolean()).map(([c, r]) => nat([...cm(c), '-j', 'MASQUERADE', ...(r ? ['--random-fully'] : [])])),
    fc.tuple(comment, mark).map(([c, m]) => filter([...cm(c), '-m', 'mark', '--mark', `${m}/${m}`, '-j', 'ACCEPT'])),
    comment.map((c) => filter([...cm(c), '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'])),
    fc.boolean().map((acct) => filter(['-m', 'conntrack', '--ctstate', 'INVALID', ...(acct ? ['-m', 'nfacct', '--nfacct-name', 'ct_state_invalid_dropped_pkts'] : []), '-j', 'DROP'])),
    comment.map((c) => filter([...cm(c), '-d', lo, '!', '-s', lo, '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-j', 'DROP'])),
    fc.tuple(comment, ip(f), fc.boolean()).map(([c, d, perIp]) =>
      nat([...cm(c), ...(perIp ? ['-d', d] : ['-m', 'addrtype', '--dst-type', 'LOCAL', '!', '-d', lo]), '-j', 'KUBE-NODEPORTS']),
    ),
    fc.tuple(comment, fc.boolean()).map(([c, ctNew]) => filter([...(ctNew ? ['-m', 'conntrack', '--ctstate', 'NEW'] : []), ...cm(c), '-j', 'C'])),
  );
}

/** Freely composed rules: global options, matches and their options in random order. */
export function composedRule(f: IPFamily): fc.Arbitrary<GeneratedRule> {
  const neg = fc.boolean().map((b) => (b ? ['!'] : []));
  const globals = fc.record(
    {
      s: fc.tuple(neg, addr(f)).map(([n, a]) => [...n, '-s', a]),
      d: fc.tuple(neg, addr(f)).map(([n, a]) => [...n, '-d', a]),
      i: fc.tuple(neg, iface).map(([n, a]) => [...n, '-i', a]),
      o: fc.tuple(neg, iface).map(([n, a]) => [...n, '-o', a]),
    },
    { requiredKeys: [] },
  );
  const portSpec = fc.oneof(port.map(String), fc.tuple(port, port).map(([a, b]) => `${Math.min(a, b)}:${Math.max(a, b)}`));
  const protoMatch = fc.tuple(proto, fc.boolean(), fc.option(fc.tuple(neg, portSpec), { nil: undefined }), fc.option(fc.tuple(neg, portSpec), { nil: undefined }), fc.boolean());
  const otherMatch = fc.oneof(
    comment.map((c) => cm(c)),
    fc.tuple(neg, fc.shuffledSubarray(['INVALID', 'NEW', 'RELATED', 'ESTABLISHED', 'UNTRACKED', 'SNAT', 'DNAT'], { minLength: 1 })).map(([n, s]) => ['-m', 'conntrack', ...n, '--ctstate', s.join(',')]),
    fc.tuple(neg, fc.subarray(f === 'IPv4' ? ['UNICAST', 'LOCAL', 'BROADCAST', 'MULTICAST', 'BLACKHOLE'] : ['UNICAST', 'LOCAL', 'MULTICAST'], { minLength: 1 })).map(([n, t]) => ['-m', 'addrtype', ...n, '--src-type', [...t].reverse().join(',')]),
    fc.tuple(neg, fc.integer({ min: 0, max: 0xffffffff }), fc.option(fc.integer({ min: 0, max: 0xffffffff }), { nil: undefined })).map(([n, v, m]) => ['-m', 'mark', ...n, '--mark', m === undefined ? `${v}` : `0x${v.toString(16)}/0x${m.toString(16)}`]),
    fc.tuple(neg, fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 12 })).map(([n, p, digits]) => ['-m', 'statistic', '--mode', 'random', ...n, '--probability', p.toFixed(digits)]),
    fc.tuple(fc.constantFrom('--set', '--rcheck', '--update', '--remove'), fc.option(fc.integer({ min: 1, max: 100000 }), { nil: undefined }), fc.boolean(), fc.constantFrom('--rsource', '--rdest', ''), fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined })).map(([op, sec, reap, side, hit]) => {
      const checks = op === '--rcheck' || op === '--update';
      return [
        '-m', 'recent', op, '--name', 'R1',
        ...(checks && sec !== undefined ? ['--seconds', `${sec}`, ...(reap ? ['--reap'] : [])] : []),
        ...(checks && hit !== undefined ? ['--hitcount', `${hit}`] : []),
        ...(side ? [side] : []),
      ];
    }),
  );
  const target = fc.oneof(
    chain.map((c): [string, string[]] => ['any', ['-j', c]]),
    chain.map((c): [string, string[]] => ['any', ['-g', c]]),
    fc.constantFrom('ACCEPT', 'RETURN').map((t): [string, string[]] => ['any', ['-j', t]]),
    fc.constant<[string, string[]]>(['filter', ['-j', 'DROP']]),
    fc.constantFrom('', 'icmp-net-unreachable', 'host-unreach', 'icmp-admin-prohibited').map((w): [string, string[]] => ['filter', ['-j', 'REJECT', ...(w ? ['--reject-with', f === 'IPv4' ? w : 'icmp6-adm-prohibited'] : [])]]),
    fc.tuple(fc.constantFrom('--set-xmark', '--set-mark', '--and-mark', '--or-mark', '--xor-mark'), fc.integer({ min: 0, max: 0xffffffff })).map(([o, v]): [string, string[]] => ['nat', ['-j', 'MARK', o, `0x${v.toString(16)}`]]),
    fc.tuple(fc.boolean(), fc.boolean()).map(([r, rf]): [string, string[]] => ['nat', ['-j', 'MASQUERADE', ...(rf ? ['--random-fully'] : []), ...(r ? ['--random'] : [])]]),
    fc.tuple(ip(f), fc.boolean()).map(([a, p]): [string, string[]] => ['nat', ['-j', 'SNAT', '--to-source', a, ...(p ? ['--persistent'] : [])]]),
  );
  return fc.tuple(globals, fc.option(protoMatch, { nil: undefined }), fc.array(otherMatch, { maxLength: 3 }), target, fc.infiniteStream(fc.nat())).map(([g, pm, others, [tableHint, t], rand]) => {
    const groups: string[][] = Object.values(g).filter((x): x is string[] => x !== undefined);
    let protoGroup: string[] = [];
    if (pm !== undefined) {
      const [p, explicitMatch, sport, dport, matchFirst] = pm;
      const opts = [...(sport ? [...sport[0], '--sport', sport[1]] : []), ...(dport ? [...dport[0], '--dport', dport[1]] : [])];
      if (!explicitMatch && opts.length === 0) protoGroup = ['-p', p];
      else if (!explicitMatch) protoGroup = ['-p', p, ...opts];
      else protoGroup = matchFirst ? ['-m', p, '-p', p, ...opts] : ['-p', p, '-m', p, ...opts];
    }
    const all = [...groups, ...others];
    for (let i = all.length - 1; i > 0; i--) {
      const j = rand.next().value % (i + 1);
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    // The protocol group goes anywhere; its match options must follow -p, which they do inside the group.
    all.splice(rand.next().value % (all.length + 1), 0, protoGroup);
    const table: 'filter' | 'nat' = tableHint === 'filter' ? 'filter' : tableHint === 'nat' ? 'nat' : rand.next().value % 2 === 0 ? 'filter' : 'nat';
    return { table, args: [...all.flat(), ...t] };
  });
}
