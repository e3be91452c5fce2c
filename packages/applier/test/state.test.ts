/**
 * The Applier's record kept between processes (state.ts): the file format refuses damage, and a model
 * test where every apply is a new process starting from the saved text: partial exactly when the state
 * is valid and nobody else wrote, and the host always equals one full apply of the last snapshot.
 */
import fc from 'fast-check';
import type { Snapshot } from '@svcrules/core';
import type { AppendCommand, TableName } from '@svcrules/iptables';
import { append, RuleTemplate, templateRule } from '@svcrules/iptables';
import { snapshotArb, scaledRuns } from '@svcrules/testkit';
import {
  createApplier,
  currentFromState,
  Digests,
  digestRules,
  digestTableRules,
  FakeNetfilter,
  identityMismatch,
  parseState,
  seedOf,
  serializeState,
  StateError,
  type AppliedState,
  type HostIdentity,
} from '../src/index.js';
import { endpoints, rules, service, slice, snapshot } from './helpers.js';

const ID: HostIdentity = { family: 'ipv4', machine: 'm1', boot: 'b1', netns: 'netns n1 (inode 7)', iptables: 'iptables v1.8.9 (nf_tables)' };
const svc1 = service('ns1', 'svc1', '172.30.0.41');
const dns = service('kube-system', 'dns', '172.30.0.10', { ports: [{ name: 'dns', protocol: 'UDP', port: 53, nodePort: 0 }] });
const v1 = rules(snapshot([svc1, dns], [slice(svc1, endpoints(['10.180.0.1', '10.180.0.2'])), slice(dns, endpoints(['10.180.0.3', '10.180.0.4']))]));
const v2 = rules(snapshot([svc1, dns], [slice(svc1, endpoints(['10.180.0.1'])), slice(dns, endpoints(['10.180.0.3']))]));

let counter = 0;
const random = (n: number) => (counter++).toString(16).padStart(2 * n, '0');
const stateful = (nf: FakeNetfilter, saved: AppliedState | undefined, reason = 'first apply') =>
  createApplier({ netfilter: nf, family: 'ipv4', state: { identity: ID, saved: saved ? { state: saved } : { reason }, random } });
/** Through the file format, as the next process reads it. */
const roundTrip = (s: AppliedState | undefined) => (s ? parseState(serializeState(s)) : undefined);
/** The host without our canary's token rule (a stateless apply keeps the canary empty). */
const hostText = async (nf: FakeNetfilter) => (await nf.save('ipv4')).replace(/^-A KUBE-SVCRULES-CANARY .*\n/gm, '');

describe('the state file format', () => {
  test('round trip: chains, digests, tokens, UDP frontends, time', async () => {
    const nf = new FakeNetfilter();
    const r = await stateful(nf, undefined).apply(v1);
    const s = r.state!;
    const back = parseState(serializeState(s));
    expect(new Map(back.chains)).toEqual(s.chains);
    expect(back.tokens).toEqual(s.tokens);
    expect(Object.keys(back.tokens).sort()).toEqual(['filter', 'nat']);
    expect(back.fullSyncAt).toBe(s.fullSyncAt);
    expect([...back.udp.keys()]).toEqual(['172.30.0.10:53']);
    expect([...back.udp.get('172.30.0.10:53')!.endpoints].sort()).toEqual(['10.180.0.3:53', '10.180.0.4:53']);
    expect(back.identity).toEqual(ID);
    // The host's canaries hold the tokens the state names.
    for (const t of ['nat', 'filter'] as TableName[]) expect((await nf.run('ipv4', ['-t', t, '-S', 'KUBE-SVCRULES-CANARY', '1'])).stdout).toContain(s.tokens[t]!);
  });

  test('damage is refused with a reason', async () => {
    const text = serializeState((await stateful(new FakeNetfilter(), undefined).apply(v1)).state!);
    const err = (t: string) => {
      try {
        parseState(t);
        return 'parsed';
      } catch (e) {
        expect(e).toBeInstanceOf(StateError);
        return (e as Error).message;
      }
    };
    expect(err(text.slice(0, text.length - 30))).toBe('truncated (no end line)');
    expect(err(text.slice(0, 200) + text.slice(201))).toBe('checksum mismatch');
    const i = text.indexOf('KUBE-SERVICES');
    expect(err(text.slice(0, i) + 'X' + text.slice(i + 1))).toBe('checksum mismatch');
    expect(err('')).toBe('not a svcrules state file');
    expect(err('{"json": true}\n')).toBe('not a svcrules state file');
    expect(err(text.replace(/^svcrules-state 2/, 'svcrules-state 1'))).toBe('format 1, this svcrules writes format 2');
  });

  test('identity: family, machine, boot, namespace and iptables each make a state foreign', () => {
    expect(identityMismatch(ID, { ...ID })).toBeUndefined();
    expect(identityMismatch(ID, { ...ID, family: 'ipv6' })).toBe('it is for ipv4, not ipv6');
    expect(identityMismatch(ID, { ...ID, machine: 'm2' })).toBe('it is from another machine (m1)');
    expect(identityMismatch(ID, { ...ID, boot: 'b2' })).toBe('it is from before a reboot');
    expect(identityMismatch(ID, { ...ID, netns: 'netns n1 (inode 8)' })).toBe('it is for another network namespace (netns n1 (inode 7); this is netns n1 (inode 8))');
    expect(identityMismatch(ID, { ...ID, iptables: 'iptables v1.8.9 (legacy)' })).toBe('it was written with another iptables (iptables v1.8.9 (nf_tables))');
  });

  test('digests: keyed, and any change of words, word boundaries, rule boundaries or order changes them', () => {
    const seed = seedOf('0123456789abcdef0123456789abcdef');
    const d = (...rs: string[][]) => digestRules(rs.map((args) => ({ kind: 'append' as const, chain: 'C', args })), seed);
    const base = d(['-j', 'KUBE-SEP-A'], ['-j', 'KUBE-SEP-B']);
    expect(d(['-j', 'KUBE-SEP-A'], ['-j', 'KUBE-SEP-B'])).toBe(base);
    expect(d(['-j', 'KUBE-SEP-B'], ['-j', 'KUBE-SEP-A'])).not.toBe(base);
    expect(d(['-j', 'KUBE-SEP-A', '-j', 'KUBE-SEP-B'])).not.toBe(base);
    expect(d(['-jKUBE-SEP-A'], ['-j', 'KUBE-SEP-B'])).not.toBe(base);
    expect(d()).not.toBe(d([]));
    expect(digestRules([{ kind: 'append', chain: 'C', args: ['-j', 'X'] }], seedOf('f'.repeat(32)))).not.toBe(d(['-j', 'X']));
    expect(base).toMatch(/^[0-9a-f]{16}$/);
  });

  test('digests of templated rules are those of their words (no words built); per-table digests are those of the prefixed words', () => {
    const seed = seedOf('0123456789abcdef0123456789abcdef');
    const plain = (r: AppendCommand) => ({ kind: 'append' as const, chain: r.chain, args: [...r.args] });
    // The digest a state written by an earlier build holds for these rules (the format must not drift).
    const t = new RuleTemplate(['-m', 'comment', '--comment', [0, ' -> ', 1], '-j', 2]);
    const known = [templateRule('C', t, 'ns/a:p', '10.0.0.1:80', 'KUBE-SEP-A'), append('C', ['-j', 'KUBE-MARK-MASQ'])];
    expect(digestRules(known, seed)).toBe('2870f1ae4e2231da');
    expect(Object.getOwnPropertyDescriptor(known[0]!, 'words')?.value).toBeUndefined();
    const part = fc.oneof(fc.constantFrom('-j', 'KUBE-SEP-A', ' -> ', 'x y'), fc.integer({ min: 0, max: 3 }));
    const word = fc.oneof(part, fc.array(part, { minLength: 1, maxLength: 3 }));
    const value = fc.constantFrom('', 'a', '10.0.0.1:80', 'ns/svc:p');
    const rule = fc.oneof(
      fc.tuple(fc.array(word, { maxLength: 6 }), value, value, value, value).map(([words, ...v]) => templateRule('C', new RuleTemplate(words), v[0]!, v[1], v[2], v[3])),
      fc.array(fc.constantFrom('-j', 'X', 'a b'), { maxLength: 4 }).map((args) => append('D', args)),
    );
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 5 }), fc.array(rule, { maxLength: 5 }), (a, b) => {
        expect(digestRules(a, seed)).toBe(digestRules(a.map(plain), seed));
        const prefixed = (table: string, rs: readonly AppendCommand[]) => rs.map((r) => append(r.chain, [table, r.chain, ...r.args]));
        expect(digestTableRules([['filter', a], ['nat', b]], seed)).toBe(digestRules([...prefixed('filter', a), ...prefixed('nat', b)], seed));
      }),
      { numRuns: scaledRuns(200, 50) },
    );
  });

  test('a partial sync from a state file writes only what differs, and the host ends as a full apply would', async () => {
    const nf = new FakeNetfilter();
    const first = await stateful(nf, undefined).apply(v1);
    expect(first).toMatchObject({ mode: 'full', reason: 'first apply' });
    const saves = nf.saves.ipv4;
    const second = await stateful(nf, roundTrip(first.state)).apply(v2);
    expect(second.mode).toBe('partial');
    expect(nf.saves.ipv4).toBe(saves);
    // Both services changed (fewer endpoints): their SVC chains, the two gone SEP chains deleted, the canary restamped.
    expect(second.plan.changed.filter((c) => c.chain.startsWith('KUBE-SVC-'))).toHaveLength(2);
    expect(second.plan.deleted).toHaveLength(2);
    expect(second.payload).toMatch(/^-A KUBE-SVCRULES-CANARY -m comment --comment svcrules:[0-9a-f]{16}$/m);
    expect(second.staleUdpFlows).toEqual([{ frontend: { ip: '172.30.0.10', port: 53 }, endpoint: '10.180.0.4:53' }]);
    const fresh = new FakeNetfilter();
    await createApplier({ netfilter: fresh, family: 'ipv4' }).apply(v2);
    expect(await hostText(nf)).toBe(await hostText(fresh));
    // Nothing changed: no restore, and the state the next run would save is the same.
    const third = await stateful(nf, roundTrip(second.state)).apply(v2);
    expect(third).toMatchObject({ mode: 'partial', restored: false, payload: '' });
    expect(serializeState(third.state!)).toBe(serializeState(second.state!));
  });

  test('another writer between two runs (a stateless apply) is noticed by the token', async () => {
    const nf = new FakeNetfilter();
    const first = await stateful(nf, undefined).apply(v1);
    await createApplier({ netfilter: nf, family: 'ipv4' }).apply(v2);
    const r = await stateful(nf, roundTrip(first.state)).apply(v1);
    expect(r.mode).toBe('full');
    expect(r.reason).toMatch(/^the (nat|filter) table was written since the state was saved \(KUBE-SVCRULES-CANARY holds no token, not svcrules:[0-9a-f]{16}\)$/);
  });

  test('the periodic full sync counts from the saved full sync', async () => {
    const nf = new FakeNetfilter();
    let now = 1_000_000;
    const make = (saved: AppliedState | undefined) =>
      createApplier({ netfilter: nf, family: 'ipv4', clock: () => now, fullSyncIntervalMs: 60_000, state: { identity: ID, saved: saved ? { state: saved } : { reason: 'first apply' }, random } });
    const first = await make(undefined).apply(v1);
    now += 30_000;
    const second = await make(roundTrip(first.state)).apply(v2);
    expect(second.mode).toBe('partial');
    now += 31_000;
    expect(await make(roundTrip(second.state)).apply(v1)).toMatchObject({ mode: 'full', reason: 'periodic full sync' });
  });

  test('currentFromState compares by digest and lists the recorded chains', () => {
    const digests = new Digests('0'.repeat(32));
    const chains = new Map([['nat' as TableName, new Map([['KUBE-SVC-X', digests.of([])]])]]);
    const cur = currentFromState({ identity: ID, seed: '0'.repeat(32), tokens: {}, fullSyncAt: 0, chains, udp: new Map() }, digests);
    expect([...cur.chains('nat')]).toEqual(['KUBE-SVC-X']);
    expect(cur.matches('nat', 'KUBE-SVC-X', [])).toBe(true);
    expect(cur.matches('nat', 'KUBE-SVC-X', [{ kind: 'append', chain: 'KUBE-SVC-X', args: ['-j', 'KUBE-SEP-Y'] }])).toBe(false);
    expect(cur.matches('nat', 'KUBE-SVC-Z', [])).toBe(false);
  });
});

interface Model {
  /** A valid state file exists and the host is what it says. */
  trusted: boolean;
}
interface Real {
  nf: FakeNetfilter;
  /** The file's text (undefined: missing). */
  file: string | undefined;
}

/** One `svcrules apply` process: read the file, apply, save. */
class ApplyCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly snapshot: Snapshot) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const desired = rules(this.snapshot);
    let saved: AppliedState | undefined;
    try {
      saved = r.file === undefined ? undefined : parseState(r.file);
    } catch {
      saved = undefined;
    }
    const saves = r.nf.saves.ipv4;
    const result = await stateful(r.nf, saved, r.file === undefined ? 'no state file' : 'corrupt').apply(desired);
    expect(result.mode).toBe(m.trusted ? 'partial' : 'full');
    if (result.mode === 'partial') expect(r.nf.saves.ipv4).toBe(saves);
    const fresh = new FakeNetfilter();
    await createApplier({ netfilter: fresh, family: 'ipv4' }).apply(desired);
    expect(await hostText(r.nf)).toBe(await hostText(fresh));
    if (result.mode === 'full' || result.restored) r.file = serializeState(result.state!);
    m.trusted = true;
  }
  toString = () => `apply(${this.snapshot.services.map((s) => `${s.namespace}/${s.name}`).join(',')})`;
}

/** Someone else touches the host or the file. */
class Interfere implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly how: 'wipe nat' | 'wipe filter' | 'stateless apply' | 'corrupt file' | 'delete file',
    readonly other: Snapshot,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    if (this.how === 'wipe nat') r.nf.wipeTable('ipv4', 'nat');
    else if (this.how === 'wipe filter') r.nf.wipeTable('ipv4', 'filter');
    else if (this.how === 'stateless apply') {
      const res = await createApplier({ netfilter: r.nf, family: 'ipv4' }).apply(rules(this.other));
      // A stateless writer that changed nothing leaves the host as the state says.
      if (!res.restored) return;
    } else if (this.how === 'corrupt file') r.file = r.file?.replace(/ [0-9a-f]{16}\n/, ' 0000000000000000\n');
    else r.file = undefined;
    m.trusted = false;
  }
  toString = () => this.how;
}

test('any sequence of runs and interference: partial exactly when the state can be trusted, the host always as a full apply leaves it', async () => {
  const how = fc.constantFrom('wipe nat', 'wipe filter', 'stateless apply', 'corrupt file', 'delete file') as fc.Arbitrary<Interfere['how']>;
  const commands = [snapshotArb('IPv4', 4).map((s) => new ApplyCommand(s)), fc.tuple(how, snapshotArb('IPv4', 3)).map(([h, s]) => new Interfere(h, s))];
  await fc.assert(
    fc.asyncProperty(fc.commands(commands, { maxCommands: 7 }), async (cmds) => {
      await fc.asyncModelRun(() => ({ model: { trusted: false }, real: { nf: new FakeNetfilter(), file: undefined } }), cmds);
    }),
    { numRuns: scaledRuns(60, 30) },
  );
});
