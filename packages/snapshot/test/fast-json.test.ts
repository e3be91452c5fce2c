/**
 * The loader's JSON fast path against the position-tracking parser: whenever it takes an input it
 * reads the same value and the same object positions; it declines whatever json.ts reports (syntax,
 * duplicate keys, depth) and whatever it cannot locate (nested lists, several documents).
 */
import fc from 'fast-check';
import { loadSnapshot, snapshotFromObjects } from '../src/index.js';
import { parseJsonFast } from '../src/fast-json.js';
import { parseJson } from '../src/json.js';
import { findPasteMistake } from '../src/paste.js';
import type { JsonPos } from '../src/json.js';
import { apiObjects } from './api-objects.js';
import { scaledRuns } from '@svcrules/testkit';

const lineCol = (text: string, offset: number) => {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - (before.lastIndexOf('\n') + 1) + 1 };
};

/** What the diagnostic path knows: the value and the positions of the root and of items[i]. */
function slow(text: string) {
  const r = parseJson(text);
  if ('error' in r || r.documents.length !== 1) return undefined;
  const { value, pos } = r.documents[0]!;
  const items = (pos.keys?.get('items')?.[1] as JsonPos | undefined)?.items ?? [];
  return { value, root: lineCol(text, pos.offset), items: items.map((p) => lineCol(text, p.offset)) };
}

function fast(text: string) {
  const r = parseJsonFast({ name: 'f.json', text }, 0);
  if (!r) return undefined;
  const at = (path: (string | number)[]) => {
    const o = r.locate(path).origin!;
    return { line: o.line, column: o.column };
  };
  // Element positions are known when every element is an object (all a list may hold).
  const items = (r.value as { items?: unknown }).items;
  const n = Array.isArray(items) && items.every((x) => typeof x === 'object' && x !== null && !Array.isArray(x)) ? items.length : 0;
  return { value: r.value, root: at([]), items: Array.from({ length: n }, (_, i) => at(['items', i])) };
}

const key = fc.oneof(fc.constantFrom('kind', 'items', 'apiVersion', 'metadata', '__proto__', 'a"b', 'c\\d', 'é', '10', 'x y'), fc.string({ maxLength: 4 }));
const scalar = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string({ maxLength: 6 }), fc.constantFrom('"', '\\', '\\"', '\u2028', '\ud800'));
const { value: valueArb } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, tie('object'), fc.array(tie('value'), { maxLength: 3 })),
  object: fc.dictionary(key, tie('value'), { maxKeys: 4 }),
}));
const docArb = fc.oneof(
  fc.dictionary(key, valueArb, { maxKeys: 5 }),
  fc.record({ kind: fc.constantFrom('List', 'ServiceList', 'List'), apiVersion: fc.constant('v1'), items: fc.array(fc.oneof(fc.dictionary(key, valueArb, { maxKeys: 3 }), valueArb), { maxLength: 4 }) }),
  fc.record({ kind: fc.constant('List'), items: fc.array(fc.record({ kind: fc.constant('List'), items: fc.array(fc.object(), { maxLength: 2 }) }), { maxLength: 2 }) }),
);
/** Text variations json.ts and JSON.parse must agree on (or both refuse). */
const textArb = fc
  .tuple(docArb, fc.constantFrom(0, 1, 2, '\t'), fc.constantFrom('', '\uFEFF'), fc.constantFrom('', '\n', '', '\n', ' {}', '\n{"a":1}', ',', ' x'), fc.constantFrom('none', 'none', 'none', 'none', 'dup', 'deep'))
  .map(([doc, indent, bom, tail, mutate]) => {
    let text = JSON.stringify(doc, null, indent);
    if (mutate === 'dup') text = text.replace(/\{(\s*)"/, '{$1"k": 1, "k": 2, "');
    if (mutate === 'deep') text = `{"a": ${'['.repeat(520)}${']'.repeat(520)}}`;
    return bom + text + tail;
  });

test('the fast path takes an input only when it reads it exactly as json.ts does', () => {
  let taken = 0;
  fc.assert(
    fc.property(textArb, (text) => {
      const f = fast(text);
      if (f === undefined) return;
      taken++;
      const s = slow(text);
      expect(s).toBeDefined();
      expect(f.value).toEqual(s!.value);
      expect(f.root).toEqual(s!.root);
      if (f.items.length > 0) expect(f.items).toEqual(s!.items);
    }),
    { numRuns: scaledRuns(2000, 400) },
  );
  expect(taken).toBeGreaterThan(300);
});

// readSourceFast skips the paste-mistake scan for JSON that JSON.parse takes: such text has none.
test('no text JSON.parse takes holds a paste mistake, whatever its strings and layout', () => {
  const pasted = fc.constantFrom('$ kubectl get svc -o json', 'user@host:~# kubectl get svc', 'PS C:\\> kubectl get svc', 'NAME   TYPE   CLUSTER-IP', 'Name:   x\nNamespace:   y', 'kubectl get svc', '\n$ kubectl get\n', '...', '<snip>');
  const layout = fc.constantFrom(0, 1, 2, '\t', '\r\n', '\n\n  ');
  fc.assert(
    fc.property(fc.dictionary(fc.oneof(pasted, key), fc.oneof(pasted, valueArb, fc.array(pasted, { maxLength: 3 })), { maxKeys: 4 }), layout, (doc, indent) => {
      const text = JSON.stringify(doc, null, indent);
      expect(() => JSON.parse(text)).not.toThrow();
      expect(findPasteMistake(text, true)).toBeUndefined();
      // The same strings as lines of their own are found.
      for (const line of Object.keys(doc).filter((k) => k.startsWith('$ kubectl'))) expect(findPasteMistake(`${line}\n${text}`, true)).toBeDefined();
    }),
    { numRuns: scaledRuns(500, 100) },
  );
});

test('declined: duplicate keys, several documents, nesting deeper than json.ts allows, nested lists, syntax errors', () => {
  const no = (text: string) => expect(parseJsonFast({ name: 'f.json', text }, 0)).toBeUndefined();
  no('{"a": 1, "a": 2}');
  no('{"a": {"b": 1, "b": 1}}');
  no('{"a": 1}\n{"b": 2}');
  no(`{"a": ${'['.repeat(600)}${']'.repeat(600)}}`);
  no('{"kind": "List", "items": [{"kind": "List", "items": []}]}');
  no('{"kind": "List", "items": [1, {"kind": "Service"}]}');
  no('{"a": [1,]}');
  no('["not an object"]');
  expect(parseJsonFast({ name: 'f.json', text: '\uFEFF {"kind": "List", "items": [ {"x": null, "y": "a\\"b"} ]}' }, 0)?.value).toEqual({ kind: 'List', items: [{ y: 'a"b' }] });
});

test('loadSnapshot on the fast path: the same objects as snapshotFromObjects, each at its position in the file', () => {
  fc.assert(
    fc.property(apiObjects, fc.constantFrom(0, 2, 4), (objects, indent) => {
      const text = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, indent);
      const loaded = loadSnapshot([{ name: 'list.json', text }]);
      const direct = snapshotFromObjects(objects);
      expect(loaded.diagnostics).toEqual(direct.diagnostics);
      const strip = (x: unknown) => JSON.parse(JSON.stringify(x, (k, v) => (k === 'origin' ? undefined : v)));
      expect(strip(loaded.snapshot)).toEqual(strip(direct.snapshot));
      const positions = slow(text)!.items;
      for (const s of [...loaded.snapshot.services, ...loaded.snapshot.nodes]) {
        const ns = 'namespace' in s ? s.namespace : undefined;
        const i = objects.findIndex((o) => {
          const m = (o as { metadata?: { name?: string; namespace?: string } }).metadata;
          return (o as { kind?: string }).kind === (ns === undefined ? 'Node' : 'Service') && m?.name === s.name && (ns === undefined || (m.namespace || 'default') === ns);
        });
        if (i >= 0 && s.origin) expect({ line: s.origin.line, column: s.origin.column }).toEqual(positions[i]);
      }
    }),
    { numRuns: scaledRuns(100, 25) },
  );
});
