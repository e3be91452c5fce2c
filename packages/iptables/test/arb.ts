/** fast-check arbitraries for rulesets (test helper, not a test). */
import fc from 'fast-check';
import type { ChainDecl, Command, Ruleset, Table, TableName } from '../src/ir.js';
import { BUILTIN_CHAINS } from '../src/ir.js';
import { isValidChainName } from '../src/words.js';

const SAFE_CHARS = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).filter((c) => !`"'\\`.includes(c));

/** Words that look like restore syntax but are safe: they must come back as one argument. */
export const TRICKY_SAFE_WORDS = [
  'COMMIT', '*filter', '*nat', ':KUBE-X - [0:0]', '-A KUBE-SERVICES -j ACCEPT', '-j ACCEPT', '-j', '-X', '#', '# comment',
  ' ', '  ', ' leading', 'trailing ', 'a  b', '[0:0]', '[1:2] -A X', '!', '-m comment --comment x', 'ns1/svc1:p80 cluster IP',
];

/** Words iptables-restore would not read back as exactly the same single argument. */
export const HOSTILE_WORDS = [
  '', '"', 'a"b', '" -j ACCEPT "', 'x\n-A KUBE-SERVICES -j DNAT --to-destination 1.2.3.4', 'x\nCOMMIT\n*filter', '\\', 'a\\"b',
  "it's", 'tab\there', 'cr\r', 'nul\0', 'del\x7f', 'caf\u00e9', '\u2028', 'x'.repeat(1024), 'emoji \u{1F600}', '\n',
];

export const safeWord: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: fc.constantFrom(...SAFE_CHARS), minLength: 1, maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constantFrom(...TRICKY_SAFE_WORDS) },
);

/**
 * One code unit iptables-restore would not read back as part of the same word, by the rule the test
 * states on its own (not the validator under test): quotes, backslash, control characters, DEL,
 * anything outside ASCII.
 */
export const unsafeChar: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('"', "'", '\\', '\n', '\t', '\r', '\0'),
  fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)),
  fc.constant('\x7f'),
  fc.integer({ min: 0x80, max: 0xffff }).map((c) => String.fromCharCode(c)),
);

/** Unsafe by construction (never filtered with isSafeWord, which is what it tests). */
export const hostileWord: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...HOSTILE_WORDS),
  fc.tuple(fc.string({ unit: fc.constantFrom(...SAFE_CHARS), maxLength: 10 }), unsafeChar, fc.string({ unit: fc.constantFrom(...SAFE_CHARS), maxLength: 10 })).map(([a, bad, b]) => a + bad + b),
  // Longer than iptables-restore's 1023-byte parameter buffer.
  fc.integer({ min: 1024, max: 1100 }).map((n) => 'w'.repeat(n)),
);

export const chainName: fc.Arbitrary<string> = fc
  .stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.:+@%=\/-]{0,27}$/)
  .filter(isValidChainName);

const counters = fc.tuple(fc.nat(), fc.nat()).map(([p, b]) => `${p}:${b}`);

export interface RulesetOptions {
  readonly word?: fc.Arbitrary<string>;
  readonly maxCommands?: number;
}

function tableArb(name: TableName, opts: RulesetOptions): fc.Arbitrary<Table> {
  const word = opts.word ?? safeWord;
  const user = fc.uniqueArray(chainName.filter((n) => !BUILTIN_CHAINS[name].includes(n)), { maxLength: 6 });
  const builtin = fc.subarray([...BUILTIN_CHAINS[name]]);
  return fc
    .tuple(builtin, user)
    .chain(([b, u]) => {
      const names = [...b, ...u];
      const decls: fc.Arbitrary<ChainDecl[]> = fc.tuple(
        ...b.map((n) => fc.record({ name: fc.constant(n), policy: fc.constantFrom('ACCEPT', 'DROP'), counters })),
        ...u.map((n) => fc.record({ name: fc.constant(n), policy: fc.constant('-'), counters: fc.constant('0:0') })),
      );
      const target = names.length > 0 ? fc.constantFrom(...names) : chainName;
      const command: fc.Arbitrary<Command> = fc.oneof(
        { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), chain: target, args: fc.array(word, { maxLength: 8 }) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('append' as const), chain: target, args: fc.array(word, { maxLength: 8 }), counters }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), chain: target }) },
      );
      return fc.record({ name: fc.constant(name), chains: decls, commands: fc.array(command, { maxLength: opts.maxCommands ?? 10 }) });
    });
}

export function rulesetArb(opts: RulesetOptions = {}): fc.Arbitrary<Ruleset> {
  const names: TableName[] = ['filter', 'nat', 'mangle', 'raw', 'security'];
  return fc
    .subarray(names, { minLength: 1 })
    .chain((ts) => fc.tuple(...ts.map((t) => tableArb(t, opts))))
    .map((tables) => ({ tables }));
}
