import type { Document, Node } from 'yaml';
import type { Origin } from '@svcrules/core';
import { looksLikeJson, parseJson } from './json.js';
import { bareListMessage, findPasteMistake } from './paste.js';
import type { JsonPos } from './json.js';
import type { Path } from './schemas/kind.js';
import { isMapping, setOwn } from './schemas/metadata.js';
import type { Sink } from './sink.js';
import { displayName, show } from './words.js';
import { yamlLib } from './yaml-lib.js';

/** Where a field is: its origin (when the input had positions) and a key that orders diagnostics. */
export interface Located {
  readonly origin?: Origin;
  readonly key: readonly number[];
}

/** Finds a field of one object by path; the nearest existing ancestor when the field is absent. */
export type Locator = (path: Path, atKey?: boolean) => Located;

/** One API object found in the input, with kind and apiVersion known, before validation. */
export interface RawObject {
  readonly kind: string;
  readonly apiVersion: string;
  readonly value: Record<string, unknown>;
  readonly locate: Locator;
  /** Index in `snapshotFromObjects`' argument (objects without positions). */
  readonly index?: number;
}

const MAX_LIST_DEPTH = 8;
const MAX_CLEAN_DEPTH = 100;

/**
 * A plain copy in which mapping entries whose value is null or undefined are gone: Go decodes a JSON
 * null into the zero value, i.e. "absent". Nulls inside lists stay (and fail validation).
 */
export function clean(v: unknown, depth = 0): unknown {
  if (depth > MAX_CLEAN_DEPTH || typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map((x) => clean(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) setOwn(out, k, clean(x, depth + 1));
  return out;
}

/** Line starts of a text, for offset -> 1-based line and column. */
function lineIndex(text: string): (offset: number) => { line: number; column: number } {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1 };
  };
}

const keyText = (k: unknown): string | undefined => (yamlLib().isScalar(k) ? String(k.value) : undefined);

/** Offset in a text -> where that is for diagnostics (file, line, column and an ordering key). */
type Placer = (offset: number) => Located;

function yamlLocator(root: Node, doc: Document, place: Placer): Locator {
  const { isAlias, isMap, isNode, isSeq } = yamlLib();
  return (path, atKey = false) => {
    let offset = root.range?.[0] ?? 0;
    let node: unknown = root;
    for (let i = 0; i < path.length; i++) {
      const n = isAlias(node) ? node.resolve(doc) : node;
      const seg = path[i];
      let next: unknown;
      if (isMap(n)) {
        const pair = n.items.find((p) => keyText(p.key) === String(seg));
        if (!pair) break;
        next = i === path.length - 1 && atKey ? pair.key : isNode(pair.value) && pair.value.range ? pair.value : pair.key;
      } else if (isSeq(n) && typeof seg === 'number') next = n.items[seg];
      else break;
      if (!isNode(next) || !next.range) break;
      node = next;
      offset = next.range[0];
    }
    return place(offset);
  };
}

function jsonLocator(root: JsonPos, place: Placer): Locator {
  return (path, atKey = false) => {
    let node = root;
    let offset = root.offset;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      if (node.keys) {
        const member = node.keys.get(String(seg));
        if (!member) break;
        if (i === path.length - 1 && atKey) {
          offset = member[0];
          break;
        }
        node = member[1];
      } else if (node.items && typeof seg === 'number' && node.items[seg]) node = node.items[seg];
      else break;
      offset = node.offset;
    }
    return place(offset);
  };
}

/**
 * Plain scalars that YAML 1.2 (this parser) and YAML 1.1 (kubectl's reader) read as different
 * numbers stay strings, so a field that needs a number reports them instead of silently differing:
 * `010` is 10 in YAML 1.2 but octal 8 for kubectl; `0o10` is 8 here but a string for kubectl.
 */
const AMBIGUOUS_NUMBER = { tag: 'tag:yaml.org,2002:str', default: true, test: /^[-+]?0(?:[0-9]+|o[0-7]+)$/, resolve: (s: string) => s };

const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim();

/** `Kind ns/name` parts of an object as written (validation comes later): for diagnostics. */
export function describeObject(value: Record<string, unknown>, namespaced: boolean): string {
  const meta = isMapping(value.metadata) ? value.metadata : {};
  const name = typeof meta.name === 'string' && meta.name !== '' ? displayName(meta.name) : '<no name>';
  if (!namespaced) return name;
  const ns = typeof meta.namespace === 'string' && meta.namespace !== '' ? displayName(meta.namespace) : 'default';
  return `${ns}/${name}`;
}

/**
 * Turns one parsed document (or list item) into RawObjects: lists are unwrapped (typed lists lend
 * their items kind and apiVersion when the items lack them, as the API server's lists do).
 */
export function collect(value: unknown, locate: Locator, out: RawObject[], sink: Sink, depth: number, index?: number): void {
  const at = locate([]);
  if (!isMapping(value)) {
    sink.error(at, undefined, undefined, 'not-an-object', `expected a Kubernetes object (a mapping with apiVersion and kind), got ${show(value)}`);
    return;
  }
  const kind = value.kind;
  const apiVersion = value.apiVersion;
  let bad = false;
  if (typeof kind !== 'string' || kind === '') {
    sink.error(locate(['kind']), undefined, 'kind', 'missing-kind', kind === undefined ? 'required field is missing (expected a kind such as Service)' : `expected a kind such as Service, got ${show(kind)}`);
    bad = true;
  }
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    sink.error(locate(['apiVersion']), undefined, 'apiVersion', 'missing-api-version', apiVersion === undefined ? 'required field is missing (expected an apiVersion such as v1)' : `expected an apiVersion such as v1, got ${show(apiVersion)}`);
    bad = true;
  }
  if (bad) return;
  const k = kind as string;
  const items = value.items;
  if (k === 'List' || (k.endsWith('List') && items !== undefined)) {
    if (depth >= MAX_LIST_DEPTH) {
      sink.error(at, displayName(k), undefined, 'invalid-type', `expected lists nested at most ${MAX_LIST_DEPTH} deep`);
      return;
    }
    if (items !== undefined && !Array.isArray(items)) {
      sink.error(locate(['items']), displayName(k), 'items', 'invalid-type', `expected a list, got ${show(items)}`);
      return;
    }
    const itemKind = k === 'List' ? undefined : k.slice(0, -'List'.length);
    (items ?? []).forEach((item: unknown, i: number) => {
      let v = item;
      if (itemKind !== undefined && isMapping(item) && (item.kind === undefined || item.apiVersion === undefined)) {
        const filled: Record<string, unknown> = {};
        setOwn(filled, 'kind', item.kind ?? itemKind);
        setOwn(filled, 'apiVersion', item.apiVersion ?? apiVersion);
        for (const [key, x] of Object.entries(item)) if (key !== 'kind' && key !== 'apiVersion') setOwn(filled, key, x);
        v = filled;
      }
      const loc: Locator = (path, atKey) => locate(['items', i, ...path], atKey);
      collect(v, loc, out, sink, depth + 1, index);
    });
    return;
  }
  out.push({ kind: k, apiVersion: apiVersion as string, value, locate, ...(index !== undefined ? { index } : {}) });
}

/** A document's root: a bare list of objects without kind gets its own message, the rest is collected. */
function collectRoot(value: unknown, locate: Locator, out: RawObject[], sink: Sink, json: boolean): void {
  const bare = Array.isArray(value) ? bareListMessage(value, json) : undefined;
  if (bare !== undefined) sink.error(locate([]), undefined, undefined, 'not-an-object', bare);
  else collect(value, locate, out, sink, 0);
}

/** Reads one source text (YAML stream or JSON) into RawObjects; syntax errors go to the sink. */
export function readSource(source: { readonly name: string; readonly text: string }, sourceIndex: number, sink: Sink): RawObject[] {
  const pos = lineIndex(source.text);
  return readText(source.text, sink, (offset) => {
    const p = pos(offset);
    return { origin: { file: source.name, line: p.line, column: p.column }, key: [sourceIndex, offset] };
  });
}

/** A text placed by `place` (a file, or a text embedded in one): its objects, embedded configurations read. */
function readText(text: string, sink: Sink, place: Placer): RawObject[] {
  const out: RawObject[] = [];
  const syntaxAt = (offset: number, message: string) => sink.error(place(offset), undefined, undefined, 'syntax', message);

  const json = looksLikeJson(text);
  const mistake = findPasteMistake(text, json);
  if (mistake) {
    sink.error(place(mistake.offset), undefined, undefined, 'paste-mistake', mistake.message);
    return out;
  }
  if (json) {
    const r = parseJson(text);
    if ('error' in r) syntaxAt(r.error.offset, `invalid JSON: ${r.error.message}`);
    else for (const d of r.documents) collectRoot(d.value, jsonLocator(d.pos, place), out, sink, true);
    return readEmbedded(out, text, sink);
  }

  const { isScalar, parseAllDocuments } = yamlLib();
  for (const doc of parseAllDocuments(text, { prettyErrors: false, customTags: (tags) => [AMBIGUOUS_NUMBER, ...tags] })) {
    const err = doc.errors[0];
    if (err) {
      syntaxAt(err.pos[0], `invalid YAML: ${oneLine(err.message)}`);
      continue;
    }
    const root = doc.contents;
    if (root === null || (isScalar(root) && root.value === null)) continue; // an empty document (e.g. a trailing `---`)
    let value: unknown;
    try {
      value = clean(doc.toJS({ maxAliasCount: 100 }));
    } catch (e) {
      syntaxAt(root.range?.[0] ?? 0, `invalid YAML: ${oneLine((e as Error).message)}`);
      continue;
    }
    collectRoot(value, yamlLocator(root, doc, place), out, sink, /^\uFEFF?[ \t\r\n]*\[/.test(text));
  }
  return readEmbedded(out, text, sink);
}

/**
 * kube-proxy's ConfigMap (`kubectl get cm -n kube-system kube-proxy -o yaml`): the configuration is
 * the text of `data["config.conf"]` (kubeadm; `data.config` in EKS's kube-proxy-config). The
 * ConfigMap is replaced by the objects of that text, located inside the outer file: line for line
 * in a block scalar (`config.conf: |`), else at the value.
 */
export const KUBE_PROXY_CONFIG_KEYS = ['config.conf', 'config'] as const;

function embeddedConfigKey(raw: RawObject): string | undefined {
  if (raw.kind !== 'ConfigMap' || raw.apiVersion !== 'v1' || !isMapping(raw.value.data)) return undefined;
  const data = raw.value.data;
  if (typeof data['config.conf'] === 'string') return 'config.conf';
  const meta = isMapping(raw.value.metadata) ? raw.value.metadata : {};
  return meta.name === 'kube-proxy-config' && typeof data.config === 'string' ? 'config' : undefined;
}

/** Whether any of these objects is a kube-proxy ConfigMap whose embedded configuration must be read. */
export const hasEmbeddedConfig = (raws: readonly RawObject[]): boolean => raws.some((r) => embeddedConfigKey(r) !== undefined);

function readEmbedded(raws: RawObject[], outer: string, sink: Sink): RawObject[] {
  if (!raws.some((r) => embeddedConfigKey(r) !== undefined)) return raws;
  return raws.flatMap((raw) => {
    const key = embeddedConfigKey(raw);
    if (key === undefined) return [raw];
    const inner = (raw.value.data as Record<string, string>)[key]!;
    const at = raw.locate(['data', key]);
    const innerPos = lineIndex(inner);
    const outerOffset = at.key[1] ?? 0;
    // A block scalar: its content starts on the next line, every line indented the same.
    const block = /^[|>]/.test(outer.slice(outerOffset, outerOffset + 1));
    const next = outer.indexOf('\n', outerOffset);
    const indent = block && next >= 0 ? (/^(?:[ \t]*\r?\n)*( *)/.exec(outer.slice(next + 1))?.[1]?.length ?? 0) : 0;
    const place: Placer = (offset) => {
      const p = innerPos(offset);
      if (!at.origin) return { key: [...at.key, offset] };
      // A quoted or JSON string does not keep its lines: the value itself is the place.
      return { origin: block ? { ...at.origin, line: at.origin.line + p.line, column: p.column + indent } : at.origin, key: [...at.key, offset] };
    };
    return readText(inner, sink, place);
  });
}

/** Objects already parsed (no positions): each is located by its index only. */
export function readObjects(objects: readonly unknown[], sink: Sink): RawObject[] {
  const out: RawObject[] = [];
  objects.forEach((o, index) => {
    const locate: Locator = () => ({ key: [0, index] });
    collect(clean(o), locate, out, sink, 0, index);
  });
  return readEmbedded(out, '', sink);
}
