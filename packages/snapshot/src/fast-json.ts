/**
 * The loader's fast path for JSON input (how esbuild and postcss keep a fast path and a diagnostic
 * one): the engine's `JSON.parse` instead of the position-tracking parser in json.ts, and one scan of
 * the text for what JSON.parse cannot tell (duplicate keys, nesting depth) and for the line and
 * column of each object. It only takes input it reads exactly as json.ts does, and only where it
 * knows every object's position: one top-level object, either an object or a list of objects that
 * are not lists themselves. Anything else, and any input with a problem to report, goes the
 * diagnostic path (load.ts), so every message and position is the same as before. YAML has its
 * own reader (fast-yaml.ts); readSourceFast below picks one per source.
 */
import type { Origin } from '@svcrules/core';
import { collect, hasEmbeddedConfig, readSource } from './documents.js';
import type { Located, Locator, RawObject } from './documents.js';
import { looksLikeJson, MAX_JSON_DEPTH } from './json.js';
import { findPasteMistake } from './paste.js';
import { parseYamlFast } from './fast-yaml.js';
import { isMapping } from './schemas/metadata.js';
import { Sink } from './sink.js';

/** Anything near json.ts's nesting limit goes the diagnostic path, which reports it. */
const MAX_FAST_DEPTH = MAX_JSON_DEPTH - 12;

interface Scan {
  /** Object keys in the text (a duplicate key counts twice: JSON.parse keeps one). */
  readonly keys: number;
  readonly maxDepth: number;
  /** Where the top-level value starts. */
  readonly root: Position;
  /** Where each element of the top-level object's `items` array starts, if they are all objects. */
  readonly items: readonly Position[];
}

interface Position {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

/**
 * One pass over text that JSON.parse accepted: strings are skipped with indexOf (a quote outside
 * a string always opens one), so the loop visits only punctuation and whitespace.
 */
function scan(text: string, start: number): Scan {
  let keys = 0;
  let depth = 0;
  let maxDepth = 0;
  let line = 1;
  let lineStart = 0;
  let lastTopKey = '';
  let inItems = false;
  let root: Position | undefined;
  const items: Position[] = [];
  const n = text.length;
  let i = start;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let j = text.indexOf('"', i + 1);
      // A quote preceded by an odd number of backslashes is escaped.
      while (text.charCodeAt(j - 1) === 0x5c) {
        let k = j - 1;
        while (text.charCodeAt(k) === 0x5c) k--;
        if ((j - 1 - k) % 2 === 0) break;
        j = text.indexOf('"', j + 1);
      }
      let k = j + 1;
      let d = text.charCodeAt(k);
      while (d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) {
        if (d === 0x0a) {
          line++;
          lineStart = k + 1;
        }
        d = text.charCodeAt(++k);
      }
      if (d === 0x3a) {
        keys++;
        if (depth === 1) lastTopKey = text.slice(i + 1, j);
      }
      i = k;
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > maxDepth) maxDepth = depth;
      if (depth === 1) root = { offset: i, line, column: i - lineStart + 1 };
      else if (depth === 2 && c === 0x5b && lastTopKey === 'items') inItems = true;
      else if (depth === 3 && c === 0x7b && inItems) items.push({ offset: i, line, column: i - lineStart + 1 });
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 1) inItems = false;
    } else if (c === 0x0a) {
      line++;
      lineStart = i + 1;
    }
    i++;
  }
  return { keys, maxDepth, root: root!, items };
}

/**
 * Counts the keys of a parsed value and drops members whose value is null, in place (json.ts leaves
 * them out: Go decodes null into the zero value).
 */
function countAndClean(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  let n = 0;
  if (Array.isArray(v)) {
    for (const x of v) n += countAndClean(x);
    return n;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) {
    n++;
    const x = o[k];
    if (x === null) delete o[k];
    else if (typeof x === 'object') n += countAndClean(x);
  }
  return n;
}

const isList = (v: unknown): boolean =>
  isMapping(v) && typeof v.kind === 'string' && (v.kind === 'List' || (v.kind.endsWith('List') && v.items !== undefined));

/**
 * The top-level value of a JSON source and a locator for it (the object itself, and
 * `['items', i, ...]` for list elements), or undefined when the source needs the diagnostic path.
 */
export function parseJsonFast(source: { readonly name: string; readonly text: string }, sourceIndex: number): { value: unknown; locate: Locator } | undefined {
  const text = source.text;
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let value: unknown;
  try {
    value = JSON.parse(start === 0 ? text : text.slice(start));
  } catch {
    return undefined;
  }
  if (!isMapping(value)) return undefined;
  const s = scan(text, start);
  if (s.maxDepth > MAX_FAST_DEPTH || countAndClean(value) !== s.keys) return undefined;
  const items = value.items;
  // A list is unwrapped (documents.ts collect): its elements' positions must all be known.
  const located = Array.isArray(items) && items.length === s.items.length;
  if (isList(value) && (!located || (items as unknown[]).some(isList))) return undefined;
  return { value, locate: objectLocator(source.name, sourceIndex, s.root, located ? s.items : []) };
}

/**
 * A locator that knows only objects' own positions (the root, and `['items', i]`): a field's
 * position is only asked for a diagnostic, and any diagnostic sends the input down the diagnostic path.
 */
function objectLocator(file: string, sourceIndex: number, root: Position, items: readonly Position[]): Locator {
  const at = (p: Position): Located => ({ origin: { file, line: p.line, column: p.column } satisfies Origin, key: [sourceIndex, p.offset] });
  const rootAt = at(root);
  const itemAt = items.map(at);
  return (path) => (path[0] === 'items' && typeof path[1] === 'number' && itemAt[path[1]] ? itemAt[path[1]]! : rootAt);
}

/** The same for YAML (fast-yaml.ts), when the text is in the subset that reader takes. */
export function parseYamlSourceFast(source: { readonly name: string; readonly text: string }, sourceIndex: number): { value: unknown; locate: Locator } | undefined {
  const doc = parseYamlFast(source.text);
  if (!doc) return undefined;
  const items = doc.value.items;
  const located = Array.isArray(items) && items.length === doc.items.length;
  if (isList(doc.value) && (!located || (items as unknown[]).some(isList))) return undefined;
  return { value: doc.value, locate: objectLocator(source.name, sourceIndex, doc.root, located ? doc.items : []) };
}

/**
 * One source's raw objects, and whether the fast path read them. Paste mistakes, kube-proxy
 * ConfigMaps (an embedded text to read and locate) and JSON or YAML the fast path cannot take are read by
 * the diagnostic path at once, so no source is parsed twice unless a fast-path source needs its
 * positions for a diagnostic (load.ts).
 */
export function readSourceFast(source: { readonly name: string; readonly text: string }, sourceIndex: number, sink: Sink): { raws: RawObject[]; fast: boolean } {
  const diagnosticPath = () => ({ raws: readSource(source, sourceIndex, sink), fast: false });
  const json = looksLikeJson(source.text);
  // Text JSON.parse takes has no paste mistake: each one is a line that starts outside any JSON
  // token (a prompt, a table header), and no JSON string holds a line break. So only YAML (and
  // JSON that fails to parse, in the diagnostic path) is scanned for them, not megabytes of JSON.
  if (!json && findPasteMistake(source.text, false)) return diagnosticPath();
  const doc = json ? parseJsonFast(source, sourceIndex) : parseYamlSourceFast(source, sourceIndex);
  if (!doc) return diagnosticPath();
  const raws: RawObject[] = [];
  const scratch = new Sink();
  collect(doc.value, doc.locate, raws, scratch, 0);
  return scratch.diagnostics(false).length > 0 || hasEmbeddedConfig(raws) ? diagnosticPath() : { raws, fast: true };
}
