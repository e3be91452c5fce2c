/**
 * iptables-restore input and iptables-save output (also `iptables-save -c`) → Ruleset.
 *
 * Accepts `#` comment lines, blank lines, `*table`, `:CHAIN POLICY [p:b]`, `[p:b] -A CHAIN ...`,
 * `-A CHAIN ...`, `-X CHAIN` and `COMMIT`. Every other command is refused, naming the line: the IR
 * (and the applier) only ever writes appends and chain deletions. Chains need not be declared here
 * (`checkRuleset` says whether they must be); words are split exactly as iptables-restore does.
 */
import type { ChainDecl, Command, Ruleset, Table, TableName } from './ir.js';
import { isTableName } from './ir.js';
import { TokenizeError, tokenize } from './tokenize.js';

export interface ParseOptions {
  /** Named in error messages, e.g. a file name. */
  readonly source?: string;
}

export class ParseError extends Error {
  readonly source: string | undefined;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  /** The offending line, without its newline. */
  readonly lineText: string;
  readonly reason: string;
  constructor(reason: string, line: number, column: number, lineText: string, source?: string) {
    const where = `${source ?? '<input>'}:${line}:${column}`;
    super(`${where}: ${reason}\n  ${lineText}\n  ${' '.repeat(Math.max(0, column - 1))}^`);
    this.name = 'ParseError';
    this.source = source;
    this.line = line;
    this.column = column;
    this.lineText = lineText;
    this.reason = reason;
  }
}

const CHAIN_LINE = /^:(\S+)[ \t]+(\S+)[ \t]+\[([0-9]+):([0-9]+)\][ \t]*$/;
const RULE_COUNTERS = /^\[([0-9]+):([0-9]+)\][ \t]+/;

const REFUSED: Readonly<Record<string, string>> = {
  '-I': 'insert', '--insert': 'insert', '-D': 'delete', '--delete': 'delete', '-F': 'flush', '--flush': 'flush',
  '-N': 'new-chain', '--new-chain': 'new-chain', '-P': 'policy', '--policy': 'policy', '-Z': 'zero', '--zero': 'zero',
  '-R': 'replace', '--replace': 'replace', '-E': 'rename-chain', '--rename-chain': 'rename-chain',
  '-C': 'check', '--check': 'check', '-L': 'list', '--list': 'list', '-S': 'list-rules', '--list-rules': 'list-rules',
};

interface OpenTable {
  readonly name: TableName;
  readonly line: number;
  readonly lineText: string;
  readonly chains: ChainDecl[];
  readonly commands: Command[];
}

export function parseRuleset(text: string, options: ParseOptions = {}): Ruleset {
  const source = options.source;
  const tables: Table[] = [];
  let open: OpenTable | undefined;
  let lineNo = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    lineNo++;
    const err = (reason: string, column = 1): ParseError => new ParseError(reason, lineNo, column, line, source);

    const cr = line.indexOf('\r');
    if (cr !== -1) throw err('carriage return in line (CRLF line endings?)', cr + 1);
    const first = line[0];
    if (first === undefined || first === '#') continue;
    if (first === '*') {
      if (open) throw err(`table ${JSON.stringify(line.slice(1))} starts before COMMIT of table ${open.name} (line ${open.line})`);
      const name = line.slice(1);
      if (!isTableName(name)) throw err(`unknown table ${JSON.stringify(name)} (expected filter, nat, mangle, raw or security)`, 2);
      open = { name, line: lineNo, lineText: line, chains: [], commands: [] };
      continue;
    }
    if (line === 'COMMIT') {
      if (!open) throw err('COMMIT outside a table');
      tables.push({ name: open.name, chains: open.chains, commands: open.commands });
      open = undefined;
      continue;
    }
    if (first === ':') {
      if (!open) throw err('chain declaration outside a table (missing *table line?)');
      const m = CHAIN_LINE.exec(line);
      if (!m) throw err('bad chain declaration, expected ":NAME POLICY [packets:bytes]"');
      if (open.commands.length > 0) {
        throw err(`chain ${m[1]} declared after a rule of table ${open.name}: declarations must precede the rules`);
      }
      open.chains.push({ name: m[1]!, policy: m[2]!, counters: `${m[3]}:${m[4]}` });
      continue;
    }
    if (line.trim() === '') continue;
    if (!open) throw err('command outside a table (missing *table line?)', firstColumn(line));
    open.commands.push(parseCommand(line, err));
  }
  if (open) {
    throw new ParseError(`table ${open.name} has no COMMIT`, open.line, 1, open.lineText, source);
  }
  return { tables };
}

function firstColumn(line: string): number {
  const m = /[^ \t]/.exec(line);
  return m ? m.index + 1 : 1;
}

function parseCommand(line: string, err: (reason: string, column?: number) => ParseError): Command {
  let rest = line;
  let offset = 0;
  let counters: string | undefined;
  const cm = RULE_COUNTERS.exec(line);
  if (cm) {
    counters = `${cm[1]}:${cm[2]}`;
    offset = cm[0].length;
    rest = line.slice(offset);
  }
  let words: string[];
  try {
    words = tokenize(rest);
  } catch (e) {
    if (e instanceof TokenizeError) throw err(e.reason, offset + e.column);
    throw e;
  }
  const cmdColumn = offset + firstColumn(rest);
  const cmd = words[0]!;
  const chainColumn = (): number => {
    const at = line.indexOf(words[1] ?? '', cmdColumn - 1 + cmd.length);
    return at === -1 ? cmdColumn : at + 1;
  };
  if (cmd === '-A' || cmd === '--append') {
    const chain = words[1];
    if (chain === undefined) throw err(`${cmd} needs a chain name`, cmdColumn);
    const args = words.slice(2);
    return counters === undefined ? { kind: 'append', chain, args } : { kind: 'append', chain, args, counters };
  }
  if (cmd === '-X' || cmd === '--delete-chain') {
    if (counters !== undefined) throw err('counters before -X', 1);
    if (words.length === 1) throw err(`${cmd} without a chain name (deleting every chain) is not supported`, cmdColumn);
    if (words.length > 2) throw err(`${cmd} takes exactly one chain name`, chainColumn());
    return { kind: 'delete', chain: words[1]! };
  }
  const refused = REFUSED[cmd];
  if (refused !== undefined) {
    throw err(`unsupported command ${cmd} (--${refused}): only -A (append) and -X (delete chain) are supported`, cmdColumn);
  }
  throw err(`expected a command (-A CHAIN ... or -X CHAIN), found ${JSON.stringify(cmd)}`, cmdColumn);
}
