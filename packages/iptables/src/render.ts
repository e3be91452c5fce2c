/**
 * The ruleset as iptables-restore text, byte for byte: `*table`, one `:NAME POLICY [counters]` line
 * per chain, the commands (`[p:b] -A CHAIN word...`, `-X CHAIN`), `COMMIT`. A word holding a space
 * is written in double quotes (as kube-proxy writes its comments), every other word bare.
 *
 * Everything is validated before the first byte is produced, so `renderChunks` never streams half
 * a ruleset: an unsafe word, chain name, policy or counter is an internal error (an Error), the last
 * defence against injection. Callers validate their inputs long before; a rule made by
 * `vettedAppend` or `templateRule` (a chain by `vettedChainDecl`) had its words checked once where
 * it was built and is not checked again. A templated rule is written from its template's text
 * (prepared here once per template) and its values, without building its word array.
 */
import type { Command, RuleTemplate, Ruleset, Table } from './ir.js';
import { TemplateRule, isTableName, isVetted } from './ir.js';
import { MAX_LINE_WORDS, chainNameProblem, quoteWord, wordProblem } from './words.js';

const CHUNK = 64 * 1024;
const COUNTERS = /^[0-9]{1,20}:[0-9]{1,20}$/;
const POLICIES: ReadonlySet<string> = new Set(['-', 'ACCEPT', 'DROP']);

function fail(table: Table, what: string): never {
  throw new Error(`cannot render table ${JSON.stringify(table.name)}: ${what}`);
}

function assertChainName(table: Table, name: string): void {
  const problem = chainNameProblem(name);
  if (problem !== undefined) fail(table, `${problem}: ${JSON.stringify(name)}`);
}

/** Throws unless every table, chain, policy, counter and word of `table` can be written safely. */
export function assertRenderable(table: Table): void {
  if (!isTableName(table.name)) fail(table, 'unknown table');
  for (const c of table.chains) {
    if (isVetted(c)) continue;
    assertChainName(table, c.name);
    if (!POLICIES.has(c.policy)) fail(table, `bad policy ${JSON.stringify(c.policy)} for chain ${c.name}`);
    if (!COUNTERS.test(c.counters)) fail(table, `bad counters ${JSON.stringify(c.counters)} for chain ${c.name}`);
  }
  for (const cmd of table.commands) assertCommand(table, cmd);
}

function assertCommand(table: Table, cmd: Command): void {
  // Checked once where it was built (core's service rules), from words checked once per service port.
  if (isVetted(cmd)) return;
  assertChainName(table, cmd.chain);
  if (cmd.kind === 'delete') return;
  if (cmd.kind !== 'append') fail(table, `unknown command kind ${JSON.stringify((cmd as { kind: unknown }).kind)}`);
  if (cmd.counters !== undefined && !COUNTERS.test(cmd.counters)) {
    fail(table, `bad rule counters ${JSON.stringify(cmd.counters)} in chain ${cmd.chain}`);
  }
  const args = cmd.args;
  if (args.length + 2 > MAX_LINE_WORDS) fail(table, `rule in chain ${cmd.chain} has more than ${MAX_LINE_WORDS} words`);
  for (let i = 0; i < args.length; i++) {
    const problem = wordProblem(args[i]!, i > 0 && args[i - 1] === '--comment');
    if (problem !== undefined) fail(table, `${problem}: ${JSON.stringify(args[i])} in a rule of chain ${cmd.chain}`);
  }
}

const quoteSpaced = (w: string): string => (w.includes(' ') ? quoteWord(w) : w);

// Lines are built with join (flat strings) and chunks joined from arrays of lines: string
// concatenation would build ropes whose flattening costs several times the rendering itself.
function commandLine(cmd: Command): string {
  if (cmd.kind === 'delete') return `-X ${cmd.chain}\n`;
  const args = cmd.args;
  let anySpace = false;
  for (const w of args) {
    if (w.includes(' ')) {
      anySpace = true;
      break;
    }
  }
  const head = cmd.counters === undefined ? `-A ${cmd.chain}` : `[${cmd.counters}] -A ${cmd.chain}`;
  if (args.length === 0) return `${head}\n`;
  // Words are safe (checked above), so only a word with a space needs quoting.
  return `${head} ${(anySpace ? args.map(quoteSpaced) : args).join(' ')}\n`;
}

/**
 * A template's text around its values, for values without a space: `lits[0] v[holes[0]] lits[1]
 * ...`, each word after a space, a word with a space in its constants in double quotes.
 */
interface PreparedTemplate {
  readonly lits: readonly string[];
  readonly holes: readonly number[];
  /** Total length of `lits`. */
  readonly length: number;
}

function prepared(t: RuleTemplate): PreparedTemplate {
  if (t.rendered !== undefined) return t.rendered as PreparedTemplate;
  const lits: string[] = [];
  const holes: number[] = [];
  let lit = '';
  for (const w of t.words) {
    const parts = typeof w === 'object' ? w : [w];
    const quote = parts.some((p) => typeof p === 'string' && p.includes(' '));
    lit += quote ? ' "' : ' ';
    for (const p of parts) {
      if (typeof p === 'string') lit += p;
      else {
        lits.push(lit);
        holes.push(p);
        lit = '';
      }
    }
    if (quote) lit += '"';
  }
  lits.push(lit + '\n');
  const p: PreparedTemplate = { lits, holes, length: lits.reduce((n, l) => n + l.length, 0) };
  t.rendered = p;
  return p;
}

/**
 * The text in ~64 KiB strings, each joined once from the pieces of its lines: a templated rule
 * adds its template's text and values as they are, so no string is built per line (at 430k
 * lines those strings, and flattening them, were most of the rendering and its garbage).
 */
function* tableChunks(table: Table): Generator<string> {
  let parts: string[] = [`*${table.name}\n`];
  let size = 0;
  for (const c of table.chains) {
    const line = `:${c.name} ${c.policy} [${c.counters}]\n`;
    parts.push(line);
    if ((size += line.length) >= CHUNK) {
      yield parts.join('');
      parts = [];
      size = 0;
    }
  }
  for (const cmd of table.commands) {
    if (cmd instanceof TemplateRule) {
      const { v0, v1, v2, v3 } = cmd;
      // A value with a space changes the quoting: rare, written word by word below.
      if (!(v0.includes(' ') || v1.includes(' ') || v2.includes(' ') || v3.includes(' '))) {
        const { lits, holes, length } = prepared(cmd.template);
        parts.push('-A ', cmd.chain, lits[0]!);
        size += 3 + cmd.chain.length + length;
        for (let i = 0; i < holes.length; i++) {
          const v = cmd.value(holes[i]!);
          parts.push(v, lits[i + 1]!);
          size += v.length;
        }
        if (size >= CHUNK) {
          yield parts.join('');
          parts = [];
          size = 0;
        }
        continue;
      }
    }
    const line = commandLine(cmd);
    parts.push(line);
    if ((size += line.length) >= CHUNK) {
      yield parts.join('');
      parts = [];
      size = 0;
    }
  }
  parts.push('COMMIT\n');
  yield parts.join('');
}

/** The text in pieces of about 64 KiB, for streaming huge rulesets. Validates everything first. */
export function* renderChunks(ruleset: Ruleset): Generator<string> {
  for (const t of ruleset.tables) assertRenderable(t);
  for (const t of ruleset.tables) yield* tableChunks(t);
}

/** One `*table` ... `COMMIT` block. */
export function renderTable(table: Table): string {
  assertRenderable(table);
  return [...tableChunks(table)].join('');
}

export function render(ruleset: Ruleset): string {
  return [...renderChunks(ruleset)].join('');
}
