/**
 * The hand-written Service and EndpointSlice readers against the zod schemas they stand in for:
 * whenever a reader takes an object, zod accepts it too, with the same document and the same built
 * model and reports; on every other object the reader declines (and the loader runs zod). Checked on
 * every Service and EndpointSlice under fixtures/ and examples/ and on random objects, valid and
 * broken in one field.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { scaledRuns } from '@svcrules/testkit';
import { readSource } from '../src/documents.js';
import { endpointSliceDoc, serviceDoc } from '../src/schemas/fast-docs.js';
import { endpointSliceKind } from '../src/schemas/endpoint-slice.js';
import { serviceKind } from '../src/schemas/service.js';
import type { BuildContext, KindModule } from '../src/schemas/kind.js';
import { Sink } from '../src/sink.js';
import { serviceObject, sliceObject } from './api-objects.js';

const ROOT = join(__dirname, '..', '..', '..');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Reader = { readonly mod: KindModule<any, unknown>; readonly read: (v: unknown) => unknown };
const SERVICE: Reader = { mod: serviceKind, read: serviceDoc };
const SLICE: Reader = { mod: endpointSliceKind, read: endpointSliceDoc };

function built(mod: Reader['mod'], doc: unknown) {
  const reports: unknown[] = [];
  const ctx: BuildContext = { error: (...a) => reports.push(['error', ...a]), warning: (...a) => reports.push(['warning', ...a]) };
  return { model: mod.build(doc, ctx), reports };
}

/** Whether the reader took the object; throws when it disagrees with zod. */
function agree({ mod, read }: Reader, value: unknown): boolean {
  const fast = read(structuredClone(value));
  const zod = mod.schema.safeParse(structuredClone(value));
  if (fast === undefined) return false;
  expect(zod.success).toBe(true);
  expect(fast).toEqual(zod.data);
  expect(built(mod, fast)).toStrictEqual(built(mod, zod.data));
  return true;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.(json|ya?ml)$/.test(n) ? [p] : [];
  });
}

describe('hand-written Service and EndpointSlice readers', () => {
  test('agree with zod on every Service and EndpointSlice in fixtures/ and examples/', () => {
    let taken = 0;
    let declined = 0;
    for (const file of [...files(join(ROOT, 'fixtures')), ...files(join(ROOT, 'examples'))]) {
      for (const raw of readSource({ name: file, text: readFileSync(file, 'utf8') }, 0, new Sink())) {
        const reader = raw.kind === 'Service' && raw.apiVersion === 'v1' ? SERVICE : raw.kind === 'EndpointSlice' && raw.apiVersion === 'discovery.k8s.io/v1' ? SLICE : undefined;
        if (!reader) continue;
        if (agree(reader, raw.value)) taken++;
        else declined++;
      }
    }
    // The corpus holds both valid objects and the error fixtures' broken ones.
    expect(taken).toBeGreaterThan(500);
    expect(declined).toBeGreaterThan(20);
  });

  /** A value that is valid somewhere, invalid elsewhere, or a form zod reads in its own way. */
  const odd = fc.constantFrom<unknown>(null, undefined, '', 0, -1, 1, 65535, 65536, 1.5, '010', '80', 'http', 'HTTP', 'None', 'TCP', 'tcp', 'Local', 'IPv4', 'FQDN', '10.0.0.1', '127.0.0.1', '::1', '::ffff:1.2.3.4', '10.1.2.3/8', ' 10.0.0.0/8', true, 'true', [], [null], ['10.0.0.1'], {}, { name: 'a' }, { __proto__: null, x: 'y' }, 'a_b', 'x'.repeat(64));
  const keyPaths = (v: unknown, prefix: (string | number)[] = []): (string | number)[][] => {
    if (typeof v !== 'object' || v === null) return [prefix];
    const entries = Array.isArray(v) ? v.map((x, i) => [i, x] as const) : Object.entries(v);
    return [prefix, ...entries.flatMap(([k, x]) => keyPaths(x, [...prefix, k]))];
  };
  /** The object with one field (or a new key beside it) set to `value`. */
  const mutated = (obj: Record<string, unknown>) =>
    fc.tuple(fc.constantFrom(...keyPaths(obj)), odd, fc.constantFrom('set', 'set', 'add', 'proto')).map(([path, value, how]) => {
      const o = structuredClone(obj);
      if (path.length === 0) return o;
      let parent: Record<string | number, unknown> = o;
      for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
      const last = path[path.length - 1]!;
      if (how === 'set') parent[last] = value;
      else if (typeof parent[last] === 'object' && parent[last] !== null && !Array.isArray(parent[last])) {
        const target = parent[last] as Record<string, unknown>;
        if (how === 'add') target.zz = value;
        else Object.defineProperty(target, '__proto__', { value, enumerable: true, writable: true, configurable: true });
      }
      return o;
    });

  for (const [name, reader, arb] of [['Service', SERVICE, serviceObject], ['EndpointSlice', SLICE, sliceObject]] as const) {
    test(`${name}: agree with zod on random objects, valid and with one field changed`, () => {
      let taken = 0;
      let runs = 0;
      fc.assert(
        fc.property(arb.chain((o) => fc.tuple(fc.constant(o), mutated(o))), ([valid, broken]) => {
          runs++;
          expect(agree(reader, valid)).toBe(true);
          if (agree(reader, broken)) taken++;
        }),
        { numRuns: scaledRuns(300, 100) },
      );
      // Some changes keep an object valid (a port name for another), most do not.
      expect(taken).toBeGreaterThan(0);
      expect(taken).toBeLessThan(runs);
    });
  }
});
