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

/** A shell prompt and command: `$ kubectl ...`, `user@host:~# kubectl ...`, `PS C:\> kubectl ...`. */
const PROMPT = /^(?:PS [^\n>]*>|[\w.@:~/[\]-]*[$%>]|[\w.@:~/[\]-]+#)[ \t]*kubectl[ \t]/;
/** The header of a `kubectl get` table (default or `-o wide` output). */
const TABLE = /^(?:NAMESPACE|NAME)(?: {2,}[A-Z][A-Z0-9()/_-]*(?: [A-Z][A-Z0-9()/_-]*)?)+ *\r?$/;
/** `kubectl describe` output starts with these two lines. */
const DESCRIBE = /^Name:[ \t]+\S+\r?\nNamespace:[ \t]/;
/** A line a blog or issue put where it left part of the output out. */
const ELISION = /^([ \t]*)(?:\.\.\.|…|\[\.\.\.\]|\(\.\.\.\)|<snip(?:ped)?>|\[snip(?:ped)?\])[ \t]*\r?$/;

const lineAt = (text: string, at: number): { start: number; line: string } => {
  const start = text.lastIndexOf('\n', at) + 1;
  const end = text.indexOf('\n', at);
  return { start, line: text.slice(start, end < 0 ? undefined : end) };
};

/**
 * The first line holding `needle` that matches `re`, found with indexOf (these scans run on dumps of
 * tens of megabytes, where a multi-line regex costs as much as parsing).
 */
function findLine(text: string, needles: readonly string[], re: RegExp): { offset: number } | undefined {
  let best: { offset: number } | undefined;
  for (const needle of needles) {
    for (let i = text.indexOf(needle); i >= 0 && (best === undefined || i < best.offset); i = text.indexOf(needle, i + needle.length)) {
      const { start, line } = lineAt(text, i);
      if (re.test(line)) {
        best = { offset: start };
        break;
      }
      i = Math.max(i, start + line.length);
    }
  }
  return best;
}

/** What may stand right before `kubectl` on a prompt line: `$ `, `# `, `> `, `% `, `$`, `#`, `>`. */
const PROMPT_ENDS = ['$ ', '# ', '> ', '% ', '$', '#', '>'];

/**
 * The first line holding a prompt character and then `kubectl` that matches PROMPT: one indexOf scan
 * for `kubectl` (findLine with each `$ kubectl`-like needle would scan a large dump seven times).
 */
function findPrompt(text: string): { offset: number } | undefined {
  for (let i = text.indexOf('kubectl'); i >= 0; i = text.indexOf('kubectl', i + 7)) {
    if (!PROMPT_ENDS.some((p) => text.startsWith(p, i - p.length))) continue;
    const { start, line } = lineAt(text, i);
    if (PROMPT.test(line)) return { offset: start };
  }
  return undefined;
}

/** Whether the character at `i` is not JavaScript whitespace (what `\S` matches). */
const nonSpaceAt = (text: string, i: number): boolean => {
  const c = text.charCodeAt(i);
  return c > 0x20 && c < 0x7f ? true : !/\s/.test(text[i]!);
};

/**
 * Deepest block nesting of a YAML text, by indentation steps and flow brackets (roughly: comments
 * and quotes aside): per line, `^( *)((?:-[ \t]+|-$)*)(\S)?` read by hand, and a line's brackets
 * counted only when it is long enough to reach the limit (this runs over dumps of tens of megabytes).
 */
export function tooDeepYaml(text: string): number | undefined {
  const indents: number[] = [];
  const n = text.length;
  for (let start = 0; start <= n; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = n;
    let i = start;
    while (i < end && text.charCodeAt(i) === 0x20) i++;
    const indent = i - start;
    let dashes = 0;
    while (i < end && text.charCodeAt(i) === 0x2d) {
      let j = i + 1;
      while (j < end && (text.charCodeAt(j) === 0x20 || text.charCodeAt(j) === 0x09)) j++;
      if (j === i + 1 && j !== end) break;
      dashes++;
      i = j;
    }
    if ((i < end && nonSpaceAt(text, i) && text.charCodeAt(i) !== 0x23) || dashes > 0) {
      while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
      indents.push(indent);
      // Each character raises the nesting by at most one.
      if (indents.length + dashes + (end - start) > MAX_NESTING) {
        let flow = dashes;
        for (let k = start; k < end; k++) {
          const c = text.charCodeAt(k);
          if (c === 0x5b || c === 0x7b) flow++;
          else if (c === 0x5d || c === 0x7d) flow--;
          if (indents.length + flow > MAX_NESTING) return k;
        }
      }
    }
    start = end + 1;
  }
  return undefined;
}

/** The message for input nested deeper than `limit` levels (here, and from the JSON parser). */
export const nestingTooDeep = (limit: number): string => `nesting too deep: more than ${limit} levels (no Kubernetes object is nested this deep)`;

/** The first paste mistake in a text, or undefined. `json`: the text is read as JSON (kubectl's rule: it starts with `{`). */
export function findPasteMistake(text: string, json: boolean): PasteMistake | undefined {
  // A prompt character right before the command (or the bare command on the first line): needles
  // with a rare first character keep this scan cheap on large dumps.
  const prompt = findPrompt(text) ?? (/^\s*kubectl[ \t]/.test(text) ? { offset: text.search(/\S/) } : undefined);
  if (prompt) {
    return {
      offset: prompt.offset,
      message: `a shell prompt and command (${JSON.stringify(lineAt(text, prompt.offset).line.trim().slice(0, 80))}), not kubectl's output: delete this line and keep only what the command printed`,
    };
  }
  const table = findLine(text, ['NAME '], TABLE);
  if (table) {
    return {
      offset: table.offset,
      message: `a kubectl table (${JSON.stringify(lineAt(text, table.offset).line.trim().replace(/ {2,}/g, ' ').slice(0, 80))}), which leaves out what the rules need: run kubectl get with -o yaml or -o json, e.g. kubectl get svc,endpointslices -A -o yaml`,
    };
  }
  if (DESCRIBE.test(text)) {
    return { offset: 0, message: 'kubectl describe output, which leaves out what the rules need: run kubectl get with -o yaml or -o json instead, e.g. kubectl get svc,endpointslices -A -o yaml' };
  }
  if (json) return undefined; // JSON nesting is bounded by the JSON parser itself (nestingTooDeep)
  for (const needle of ['...', '…', 'snip']) {
    for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) {
      const { start, line } = lineAt(text, i);
      const m = ELISION.exec(line);
      if (!m) continue;
      // `...` at column 0 is YAML's document end marker: valid when a new document or the end follows.
      const after = text.slice(start + line.length + 1, start + line.length + 4096);
      if (m[1] === '' && m[0].trim() === '...' && /^(?:[ \t]*(?:#[^\n]*)?\r?\n)*(?:---|$)/.test(after)) continue;
      return {
        offset: start + m[1]!.length,
        message: `an elision (${JSON.stringify(m[0].trim())}) where part of the output was left out: svcrules needs the objects complete; paste kubectl's whole output`,
      };
    }
  }
  const deep = tooDeepYaml(text);
  if (deep !== undefined) return { offset: deep, message: nestingTooDeep(MAX_NESTING) };
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
