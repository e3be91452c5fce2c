import { saveProbability, saveString, SaveFormError, toSaveForm, toSaveLine } from '../src/save-form.js';
import { tokenize } from '../src/tokenize.js';

// Expected lines are what Debian's iptables-save 1.8.9 printed for these inputs (nft and legacy
// backends alike); save-form.netns.test.ts checks the same against the real tools.
const v4: [string, string][] = [
  [
    '-m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
    '! -s 10.0.0.0/8 -d 172.30.0.41/32 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ',
  ],
  ['-m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ', '-s 10.180.0.1/32 -m comment --comment "ns1/svc1:p80" -j KUBE-MARK-MASQ'],
  [
    '-m comment --comment ns1/svc1:p80 -m recent --name KUBE-SEP-X --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80',
    '-p tcp -m comment --comment "ns1/svc1:p80" -m recent --set --name KUBE-SEP-X --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.180.0.1:80',
  ],
  [
    '-m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m recent --name KUBE-SEP-X --rcheck --seconds 10800 --reap -j KUBE-SEP-X',
    '-m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-X --mask 255.255.255.255 --rsource -j KUBE-SEP-X',
  ],
  [
    '-m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-X',
    '-m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-X',
  ],
  [
    '-m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
    '! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
  ],
  ['-m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP', '-m conntrack --ctstate INVALID -m nfacct --nfacct-name  ct_state_invalid_dropped_pkts -j DROP'],
  ['-m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT', '-m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT'],
  ['-m mark ! --mark 0x00004000/0x00004000 -j RETURN', '-m mark ! --mark 0x4000/0x4000 -j RETURN'],
  ['-j MARK --xor-mark 0x00004000', '-j MARK --set-xmark 0x4000/0x0'],
  ['-j MARK --or-mark 0x00004000', '-j MARK --set-xmark 0x4000/0x4000'],
  ['-j MARK --set-mark 0x100/0xff', '-j MARK --set-xmark 0x100/0x1ff'],
  ['-j MARK --and-mark 0x10', '-j MARK --set-xmark 0x0/0xffffffef'],
  ['-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully', '-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully'],
  ['-m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j REJECT', '-d 172.30.0.46/32 -p tcp -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable'],
  [
    '-m comment --comment "ns2/svc2:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j DROP',
    '-p tcp -m comment --comment "ns2/svc2:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 3001 -j DROP',
  ],
  [
    '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS',
    '! -d 127.0.0.0/8 -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
  ],
  [
    '-m comment --comment ns2/svc2:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3001 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-X',
    '-d 127.0.0.0/8 -p tcp -m comment --comment "ns2/svc2:p80" -m tcp --dport 3001 -m nfacct --nfacct-name  localhost_nps_accepted_pkts -j KUBE-EXT-X',
  ],
  ['-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES', '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES'],
  ['! -i veth+ -j KUBE-SEP-X', '! -i veth+ -j KUBE-SEP-X'],
  ['-i eth0 -o eth1 -s 1.2.3.4 -d 5.6.7.8 -p udp -j C', '-s 1.2.3.4/32 -d 5.6.7.8/32 -i eth0 -o eth1 -p udp -j C'],
  ['-p tcp --dport 80 -j C', '-p tcp -m tcp --dport 80 -j C'],
  ['-m tcp -p tcp --dport 80 -m comment --comment x -j C', '-p tcp -m tcp --dport 80 -m comment --comment x -j C'],
  ['-p udp -m udp --dport 1000:2000 --sport 53 -j C', '-p udp -m udp --sport 53 --dport 1000:2000 -j C'],
  ['-p tcp -m tcp --dport 0:65535 -j C', '-p tcp -m tcp -j C'],
  ['-p tcp -m tcp --dport 80:80 -j C', '-p tcp -m tcp --dport 80 -j C'],
  ['-p tcp -m tcp --dport 1000: -j C', '-p tcp -m tcp --dport 1000:65535 -j C'],
  ['-p 6 -m tcp --dport 80 -j C', '-p tcp -m tcp --dport 80 -j C'],
  ['-p all -s 10.1.2.3/8 -j C', '-s 10.0.0.0/8 -j C'],
  ['-d 0.0.0.0/0 -s 10.0.0.0/255.0.255.0 -j C', '-s 10.0.0.0/255.0.255.0 -j C'],
  ['-m conntrack --ctstate dnat,SNAT,UNTRACKED,NEW,ESTABLISHED,RELATED,INVALID -j C', '-m conntrack --ctstate INVALID,NEW,RELATED,ESTABLISHED,UNTRACKED,SNAT,DNAT -j C'],
  ['-m addrtype --dst-type local,UNICAST -j C', '-m addrtype --dst-type UNICAST,LOCAL -j C'],
  ['-m mark --mark 010 -j C', '-m mark --mark 0x8 -j C'],
  ['-m statistic --mode random ! --probability .5 -j C', '-m statistic --mode random ! --probability 0.50000000000 -j C'],
  ['-m recent --update --seconds 5 --hitcount 3 --rttl --name X --rdest --mask 255.255.0.0 -j C', '-m recent --update --seconds 5 --hitcount 3 --rttl --name X --mask 255.255.0.0 --rdest -j C'],
  ['-m recent --remove -j C', '-m recent --remove --name DEFAULT --mask 255.255.255.255 --rsource -j C'],
  ['-p tcp -j MASQUERADE --random-fully --random --to-ports 10-20', '-p tcp -j MASQUERADE --to-ports 10-20 --random --random-fully'],
  ['-p tcp -j DNAT --to-destination 10.0.0.1-10.0.0.5:80-90', '-p tcp -j DNAT --to-destination 10.0.0.1-10.0.0.5:80-90'],
  ['-j REJECT --reject-with host-prohib', '-j REJECT --reject-with icmp-host-prohibited'],
  ['-p tcp -j REJECT --reject-with tcp-rst', '-p tcp -j REJECT --reject-with tcp-reset'],
  ['-g C', '-g C'],
  ['-m comment --comment a_b-9 -j C', '-m comment --comment a_b-9 -j C'],
  ['-m comment --comment a.b -j C', '-m comment --comment "a.b" -j C'],
  ['-m tcp -p tcp -m tcp --dport 5 -j C', '-p tcp -m tcp -m tcp --dport 5 -j C'],
];

const v6: [string, string][] = [
  [
    '-m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d fd00:172:30::41 --dport 80 ! -s fd00:10::/64 -j C',
    '! -s fd00:10::/64 -d fd00:172:30::41/128 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 -j C',
  ],
  ['-m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination [fd00:10:180::1]:80', '-p tcp -m comment --comment "ns1/svc1:p80" -m tcp -j DNAT --to-destination [fd00:10:180::1]:80'],
  ['-m addrtype --dst-type LOCAL ! -d ::1/128 -j C', '! -d ::1/128 -m addrtype --dst-type LOCAL -j C'],
  ['-s FD00:0:0::1 -d ::ffff:1.2.3.4 -j C', '-s fd00::1/128 -d ::ffff:1.2.3.4/128 -j C'],
  ['-s fd00:1:2:3:4:5:6:7/48 -j C', '-s fd00:1:2::/48 -j C'],
  ['-s 0:0:0:0:0:0:0:2 -j C', '-s ::2/128 -j C'],
  ['-s ::1.2.3.4 -j C', '-s ::1.2.3.4/128 -j C'],
  ['-s 1:0:0:1:0:0:0:1 -j C', '-s 1:0:0:1::1/128 -j C'],
  ['-s 1:0:1:0:0:1:0:1 -j C', '-s 1:0:1::1:0:1/128 -j C'],
  ['-m recent --name KUBE-SEP-X --set -j C', '-m recent --set --name KUBE-SEP-X --mask ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rsource -j C'],
  ['-j REJECT', '-j REJECT --reject-with icmp6-port-unreachable'],
  ['-j REJECT --reject-with adm-prohibited', '-j REJECT --reject-with icmp6-adm-prohibited'],
  ['-m udp -p udp -j DNAT --to-destination fd00::1', '-p udp -m udp -j DNAT --to-destination fd00::1'],
];

describe('toSaveLine / toSaveForm (as iptables-save prints)', () => {
  it.each(v4)('IPv4: %s', (input, saved) => {
    expect(toSaveLine('T', tokenize(input), 'IPv4')).toBe(`-A T ${saved}`);
    expect(toSaveForm(tokenize(input), 'IPv4')).toEqual(tokenize(saved));
  });
  it.each(v6)('IPv6: %s', (input, saved) => {
    expect(toSaveLine('T', tokenize(input), 'IPv6')).toBe(`-A T ${saved}`);
    expect(toSaveForm(tokenize(input), 'IPv6')).toEqual(tokenize(saved));
  });
  it('is idempotent: the save form of a save form is itself', () => {
    for (const [, saved] of v4) expect(toSaveForm(tokenize(saved), 'IPv4')).toEqual(tokenize(saved));
    for (const [, saved] of v6) expect(toSaveForm(tokenize(saved), 'IPv6')).toEqual(tokenize(saved));
  });

  it.each([
    ['-m multiport --dports 80,443 -j C', /unsupported match -m multiport/],
    ['-j LOG --log-prefix x', /unsupported target -j LOG/],
    ['-p tcp -m tcp --dport http -j C', /only decimal port numbers/],
    ['-p tcp -m tcp --dport 080 -j C', /bad port/],
    ['-p tcp -m tcp --dport 70000 -j C', /out of range/],
    ['-p udp -m udp ! --dport 0:65535 -j C', /nft and legacy/],
    ['! -d 0.0.0.0/0 -j C', /refused by the nft backend/],
    ['-p 200 -j C', /unsupported protocol/],
    ['-s example.com -j C', /bad IPv4 address/],
    ['-s 1.2.3.4,5.6.7.8 -j C', /bad IPv4 address/],
    ['-m tcp --dport 80 -j C', /-m tcp needs -p tcp/],
    ['--dport 80 -p tcp -j C', /unknown option --dport/],
    ['-j DNAT --to-destination 10.0.0.1:80', /a port needs -p tcp/],
    ['-m recent --name X -j C', /exactly one of --set/],
    ['-m recent --set --reap -j C', /--reap needs --seconds/],
    ['-m statistic --mode random --probability 1.5 -j C', /not between 0 and 1/],
    ['-m comment --comment x -j C -j D', /more than one -j/],
    ['-j MARK --or-mark 0x100000000', /does not fit 32 bits/],
    ['-j MARK', /exactly one of --set-xmark/],
    ['! ! -s 1.2.3.4 -j C', /double !/],
    ['-s 1.2.3.4 stray -j C', /unexpected word "stray"/],
    ['-j C --random', /unknown option --random/],
    ['-g ACCEPT', /goto needs a chain/],
  ])('refuses %s rather than guess', (input, message) => {
    expect(() => toSaveForm(tokenize(input), 'IPv4')).toThrow(SaveFormError);
    expect(() => toSaveForm(tokenize(input), 'IPv4')).toThrow(message);
  });
});

describe('saveProbability', () => {
  it.each([
    ['0.5000000000', '0.50000000000'],
    ['0.3333333333', '0.33333333349'],
    ['0.2500000000', '0.25000000000'],
    ['0.0004882812', '0.00048828125'],
    ['0.000244140625', '0.00024414062'], // exact tie, rounded to even
    ['1', '1.00000000000'],
    ['0', '0.00000000000'],
    ['5e-1', '0.50000000000'],
  ])('%s → %s', (input, printed) => {
    expect(saveProbability(input)).toBe(printed);
  });
});

describe('saveString (xtables_save_string)', () => {
  it('is bare only for [A-Za-z0-9_-], else quoted with " \\ \' escaped', () => {
    expect(saveString('a_b-9')).toBe('a_b-9');
    expect(saveString('ns1/svc1:p80')).toBe('"ns1/svc1:p80"');
    expect(saveString(`a"b\\c'd`)).toBe(`"a\\"b\\\\c\\'d"`);
    expect(saveString('')).toBe('""');
    for (const w of ['x y', `a"b\\c'd`, 'ns1/svc1:p80']) expect(tokenize(saveString(w))).toEqual([w]);
  });
});
