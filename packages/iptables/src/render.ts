/**
 * The ruleset as iptables-restore text, byte for byte: `*table`, one `:NAME POLICY [counters]` line
 * per chain, the commands (`[p:b] -A CHAIN word...`, `-X CHAIN`), `COMMIT`. A word holding a space
 * is written in double quotes (as kube-proxy writes its comments), every other word bare.
 *
 * Everything is validated before the first byte is produced, so `renderChunks` never streams half
 * a ruleset: an unsafe word, chain name, policy or counter is an internal error (an Error), the last
 * defence against injection. Callers validate their inputs long before.
 */
import type { Command, Ruleset, Table } from './ir.js';
import { isTableName } from './ir.js';
import { MAX_LINE_WORDS, chainNameProblem, wordProblem } from './words.js';

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
    assertChainName(table, c.name);
    if (!POLICIES.has(c.policy)) fail(table, `bad policy ${JSON.stringify(c.policy)} for chain ${c.name}`);
    if (!COUNTERS.test(c.counters)) fail(table, `bad counters ${JSON.stringify(c.counters)} for chain ${c.name}`);
  }
  for (const cmd of table.commands) assertCommand(table, cmd);
}

function assertCommand(table: Table, cmd: Command): void {
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

function commandLine(cmd: Command): string {
  if (cmd.kind === 'delete') return `-X ${cmd.chain}\n`;
  let line = cmd.counters === undefined ? `-A ${cmd.chain}` : `[${cmd.counters}] -A ${cmd.chain}`;
  for (const w of cmd.args) line += w.includes(' ') ? ` "${w}"` : ` ${w}`;
  return line + '\n';
}

function* tableChunks(table: Table): Generator<string> {
  let buf = `*${table.name}\n`;
  for (const c of table.chains) {
    buf += `:${c.name} ${c.policy} [${c.counters}]\n`;
    if (buf.length >= CHUNK) {
      yield buf;
      buf = '';
    }
  }
  for (const cmd of table.commands) {
    buf += commandLine(cmd);
    if (buf.length >= CHUNK) {
      yield buf;
      buf = '';
    }
  }
  yield buf + 'COMMIT\n';
}

/** The text in pieces of about 64 KiB, for streaming huge rulesets. Validates everything first. */
export function* renderChunks(ruleset: Ruleset): Generator<string> {
  for (const t of ruleset.tables) assertRenderable(t);
  for (const t of ruleset.tables) yield* tableChunks(t);
}

/** One `*table` ... `COMMIT` block. */
export function renderTable(table: Table): string {
  assertRenderable(table);
  let out = '';
  for (const s of tableChunks(table)) out += s;
  return out;
}

export function render(ruleset: Ruleset): string {
  let out = '';
  for (const s of renderChunks(ruleset)) out += s;
  return out;
}
