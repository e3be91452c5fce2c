/**
 * The loader's YAML fast path (fast-yaml.ts) against the diagnostic path (the `yaml` parser with
 * positions): whenever the fast path takes a text, the diagnostic path reads it without a
 * diagnostic into the same objects (kind, apiVersion, value) at the same places. Checked on every
 * YAML file under fixtures/ and examples/, on random objects as the `yaml` library prints them in
 * several styles, and on those texts with one line changed (comments, tabs, anchors, folding,
 * indentation, duplicates: what the fast path must decline or read exactly).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import type { CreateNodeOptions, DocumentOptions, SchemaOptions, ToStringOptions } from 'yaml';
import { scaledRuns } from '@svcrules/testkit';
import { readSource } from '../src/documents.js';
import { readSourceFast } from '../src/fast-json.js';
import { Sink } from '../src/sink.js';
import { apiObjects } from './api-objects.js';

const ROOT = join(__dirname, '..', '..', '..');

const shape = (raws: ReturnType<typeof readSource>) => raws.map((r) => ({ kind: r.kind, apiVersion: r.apiVersion, value: r.value, at: r.locate([]) }));

/** Whether the fast path took the text; throws when it disagrees with the diagnostic path. */
function agree(text: string): boolean {
  const source = { name: 'in.yaml', text };
  const fastSink = new Sink();
  const fast = readSourceFast(source, 3, fastSink);
  if (!fast.fast) return false;
  expect(fastSink.diagnostics(false)).toEqual([]);
  const sink = new Sink();
  const slow = readSource(source, 3, sink);
  expect(sink.diagnostics(false)).toEqual([]);
  expect(shape(fast.raws)).toStrictEqual(shape(slow));
  return true;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.ya?ml$/.test(n) ? [p] : [];
  });
}

/** Scalars YAML reads in more than one way, or not at all without quoting. */
const trickyString = fc.constantFrom(
  '', ' ', 'a b', ' lead', 'trail ', 'true', 'True', 'TRUE', 'false', 'yes', 'no', 'on', 'null', 'Null', '~', '0', '00', '010', '0o10', '0x1F', '08', '1e3', '1.5',
  '.5', '.inf', '-.inf', '.nan', '-1', '+1', '1_000', '12345678901234567890', '2024-01-01', '2024-01-01T00:00:00Z', '10.0.0.1', '::1', 'fd00::1', '10.0.0.0/8',
  'a: b', 'a:b', 'a:', 'a #b', 'a#b', '#x', '- x', '-x', '? x', '!tag', '&anchor', '*alias', '|', '>', "it's", 'say "hi"', 'back\\slash', 'tab\there',
  'line\nbreak', 'x'.repeat(90), 'word '.repeat(20), '[a]', '{a}', 'a,b', '@x', '`x', '%x', 'é', '\u2028', '=', '<<',
);
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, trickyString, fc.string({ maxLength: 8 }), fc.integer(), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null), tie('o'), fc.array(tie('v'), { maxLength: 3 })),
  o: fc.dictionary(fc.oneof(fc.constantFrom('a', 'b', 'name', 'kind', 'items', 'true', 'null', '10', 'a b', 'x:y', 'constructor', '__proto__', 'ns/k.io'), fc.string({ maxLength: 5 })), tie('v'), { maxKeys: 4 }),
})).v;
const list = fc.tuple(apiObjects, fc.array(fc.dictionary(fc.string({ maxLength: 4 }), value, { maxKeys: 3 }), { maxLength: 2 })).map(([objects, odd]) => ({
  apiVersion: 'v1',
  kind: 'List',
  metadata: { resourceVersion: '' },
  items: [...objects, ...odd.map((o) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: o }))],
}));
/** kubectl's style (sequences not indented under their key) and the `yaml` library's own styles. */
const style = fc.constantFrom<DocumentOptions & SchemaOptions & CreateNodeOptions & ToStringOptions>({}, { indentSeq: false }, { lineWidth: 0 }, { indentSeq: false, lineWidth: 20, minContentWidth: 0 }, { defaultStringType: 'QUOTE_SINGLE' }, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN' }, { indent: 4 });
const lineEdit = fc.constantFrom('none', 'none', 'comment', 'tab', 'crlf', 'blank', 'anchor', 'dup', 'indent', 'dedent', 'docstart', 'docend', 'trail', 'delete', 'unquote', 'unquote');

function edit(text: string, how: string, at: number): string {
  const lines = text.split('\n');
  const i = at % lines.length;
  const l = lines[i]!;
  switch (how) {
    case 'comment': lines.splice(i, 0, `${' '.repeat(l.length - l.trimStart().length)}# note`); break;
    case 'tab': lines[i] = l.replace(': ', ':\t'); break;
    case 'crlf': lines[i] = `${l}\r`; break;
    case 'blank': lines.splice(i, 0, '', '   '); break;
    case 'anchor': lines[i] = l.replace(': ', ': &a '); break;
    case 'dup': lines.splice(i, 0, l); break;
    case 'indent': lines[i] = ` ${l}`; break;
    case 'dedent': lines[i] = l.replace(/^ /, ''); break;
    case 'docstart': lines.splice(i, 0, '---'); break;
    case 'docend': lines.splice(i, 0, '...'); break;
    case 'trail': lines[i] = `${l} `; break;
    case 'delete': lines.splice(i, 1); break;
    // A quoted scalar written plain: the core schema may read it as another type, or not at all.
    case 'unquote': {
      const j = lines.findIndex((x, k) => k >= i && /(?:: |- )(["']).*\1$/.test(x));
      if (j >= 0) lines[j] = lines[j]!.replace(/((?:: |- ))(["'])(.*)\2$/, '$1$3');
      break;
    }
  }
  return lines.join('\n');
}

describe('YAML fast path', () => {
  test('agrees with the diagnostic path on every YAML file in fixtures/ and examples/', () => {
    let taken = 0;
    for (const file of [...files(join(ROOT, 'fixtures')), ...files(join(ROOT, 'examples'))]) if (agree(readFileSync(file, 'utf8'))) taken++;
    expect(taken).toBeGreaterThan(30);
  });

  test('agrees with the diagnostic path on random Lists as the yaml library prints them, and with one line changed', () => {
    let taken = 0;
    let plain = 0;
    let takenEdited = 0;
    fc.assert(
      fc.property(list, style, lineEdit, fc.nat(), (doc, options, how, at) => {
        const text = stringify(doc, { aliasDuplicateObjects: false, ...options });
        if (agree(text)) taken++;
        if (Object.keys(options).length === 0 && doc.items.every((o) => o.kind !== 'ConfigMap')) plain++;
        if (how !== 'none' && agree(edit(text, how, at))) takenEdited++;
      }),
      { numRuns: scaledRuns(400, 150) },
    );
    // Valid objects in kubectl's style are the fast path's business; odd ones and edits mostly are not.
    expect(taken).toBeGreaterThanOrEqual(plain);
    expect(takenEdited).toBeGreaterThan(0);
  });
});
