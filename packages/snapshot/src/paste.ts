/**
 * What people paste by mistake instead of kubectl's YAML or JSON, recognised before parsing so the
 * message says what the text is and what to do (a parser would only say "invalid YAML" or
 * overflow its stack). Text-level only: byte decoding (UTF-16, gzip) happens where files are read.
 */
export interface PasteMistake {
  /** Offset in the text of what was recognised. */
  readonly offset: number;
  readonly message: string;
}

/** Deeper than any Kubernetes object; beyond it the parsers would recurse without need. */
export const MAX_NESTING = 100;

/** A shell prompt and command at the start of a line: `$ kubectl ...`, `user@host:~# kubectl ...`, `PS C:\> kubectl ...`. */
const PROMPT = /^(?:PS [^\n>]*>|[\w.@:~/[\]-]*[$%>]|[\w.@:~/[\]-]+#)[ \t]*kubectl[ \t][^\n]*/m;
/** The header of a `kubectl get` table (default or `-o wide` output). */
const TABLE = /^(?:NAMESPACE|NAME)(?: {2,}[A-Z][A-Z0-9()/_-]*(?: [A-Z][A-Z0-9()/_-]*)?)+ *\r?$/m;
/** `kubectl describe` output starts with these two lines. */
const DESCRIBE = /^Name:[ \t]+\S+\r?\nNamespace:[ \t]/;
/** A line a blog or issue put where it left part of the output out. */
const ELISION = /^([ \t]*)(?:\.\.\.|…|\[\.\.\.\]|\(\.\.\.\)|<snip(?:ped)?>|\[snip(?:ped)?\])[ \t]*\r?$/gm;

const firstLine = (text: string, at: number): string => {
  const end = text.indexOf('\n', at);
  return text.slice(at, end < 0 ? undefined : end).replace(/\r$/, '');
};

/** Deepest `[`/`{` nesting of a JSON text (strings skipped), with where it first got too deep. */
function tooDeepJson(text: string): number | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_NESTING) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return undefined;
}

/** Deepest block nesting of a YAML text, by indentation steps and flow brackets (roughly: comments and quotes aside). */
function tooDeepYaml(text: string): number | undefined {
  const indents: number[] = [];
  let offset = 0;
  for (const line of text.split('\n')) {
    const m = /^( *)(- +)*(\S)?/.exec(line)!;
    if (m[3] !== undefined && m[3] !== '#') {
      const indent = m[1]!.length;
      while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
      indents.push(indent);
      let flow = 0;
      for (let i = 0; i < line.length; i++) {
        const c = line[i];
        if (c === '[' || c === '{') flow++;
        if (indents.length + flow > MAX_NESTING) return offset + i;
      }
      if (indents.length > MAX_NESTING) return offset;
    }
    offset += line.length + 1;
  }
  return undefined;
}

/** The first paste mistake in a text, or undefined. `json` says the text is meant as JSON. */
export function findPasteMistake(text: string, json: boolean): PasteMistake | undefined {
  const prompt = PROMPT.exec(text);
  if (prompt) {
    return {
      offset: prompt.index,
      message: `a shell prompt and command (${JSON.stringify(prompt[0].trim().slice(0, 80))}), not kubectl's output: delete this line and keep only what the command printed`,
    };
  }
  const table = TABLE.exec(text);
  if (table) {
    return {
      offset: table.index,
      message: `a kubectl table (${JSON.stringify(firstLine(text, table.index).replace(/ {2,}/g, ' ').slice(0, 80))}), which leaves out what the rules need: run kubectl get with -o yaml or -o json, e.g. kubectl get svc,endpointslices -A -o yaml`,
    };
  }
  if (DESCRIBE.test(text)) {
    return { offset: 0, message: 'kubectl describe output, which leaves out what the rules need: run kubectl get with -o yaml or -o json instead, e.g. kubectl get svc,endpointslices -A -o yaml' };
  }
  if (!json) {
    for (const m of text.matchAll(ELISION)) {
      // `...` at column 0 is YAML's document end marker: valid when a new document or the end follows.
      if (m[1] === '' && m[0].trim() === '...' && /^(?:[ \t]*(?:#[^\n]*)?\r?\n)*(?:---|$)/.test(text.slice(m.index + m[0].length + 1))) continue;
      return {
        offset: m.index + m[1]!.length,
        message: `an elision (${JSON.stringify(m[0].trim())}) where part of the output was left out: svcrules needs the objects complete; paste kubectl's whole output`,
      };
    }
  }
  const deep = json ? tooDeepJson(text) : tooDeepYaml(text);
  if (deep !== undefined) return { offset: deep, message: `nesting too deep: more than ${MAX_NESTING} levels (no Kubernetes object is nested this deep)` };
  return undefined;
}

/**
 * A bare list of objects without kind (`kubectl get ... -o json | jq .items`): what to do about it.
 * Undefined when the list's items are not such objects (the generic message then applies).
 */
export function bareListMessage(items: readonly unknown[], json: boolean): string | undefined {
  const mappings = items.filter((x) => typeof x === 'object' && x !== null && !Array.isArray(x)) as Record<string, unknown>[];
  if (mappings.length === 0 || mappings.length !== items.length || mappings.some((m) => typeof m.kind === 'string')) return undefined;
  const what = json ? 'JSON array' : 'YAML list';
  return `expected a Kubernetes object (a mapping with apiVersion and kind), got a bare ${what} of ${items.length} object${items.length === 1 ? '' : 's'} without kind (a selection such as jq .items?): give kubectl's whole output, a List with apiVersion, kind and items`;
}
