import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDiagnostic } from '@svcrules/core';
import { FIXTURES, readGolden, updatingGoldens } from '@svcrules/testkit';
import { DIAGNOSTIC_CODES, loadSnapshot } from '../src/index.js';

/**
 * fixtures/snapshot-errors/<case>/input.yaml (or input.json) -> expected.diagnostics: one
 * formatDiagnostic line per diagnostic, byte for byte (UPDATE_GOLDEN=1 rewrites them).
 */
const ROOT = join(FIXTURES, 'snapshot-errors');
const cases = readdirSync(ROOT, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

function inputOf(dir: string): string {
  const inputs = readdirSync(dir).filter((f) => /^input\.(ya?ml|json)$/.test(f));
  if (inputs.length !== 1) throw new Error(`${dir}: expected exactly one input.yaml or input.json, found ${inputs.length}`);
  return inputs[0]!;
}

describe('bad-input corpus', () => {
  test('has at least 35 cases, each a folder with one input and its expected diagnostics', () => {
    expect(cases.length).toBeGreaterThanOrEqual(35);
    if (updatingGoldens()) return; // the goldens are being written by the cases below
    for (const c of cases) {
      const files = readdirSync(join(ROOT, c)).sort();
      expect([c, files]).toEqual([c, [inputOf(join(ROOT, c)), 'expected.diagnostics'].sort()]);
    }
  });

  test.each(cases)('%s', (c) => {
    const dir = join(ROOT, c);
    const name = inputOf(dir);
    const result = loadSnapshot([{ name, text: readFileSync(join(dir, name), 'utf8') }]);
    // A corpus case is bad input: it must produce at least one diagnostic, each with a known code.
    expect(result.diagnostics.length).toBeGreaterThan(0);
    for (const d of result.diagnostics) expect(Object.keys(DIAGNOSTIC_CODES)).toContain(d.code);
    const actual = result.diagnostics.map((d) => `${formatDiagnostic(d)}\n`).join('');
    // Diagnostics are one line each and carry no raw control or non-ASCII characters.
    expect(actual).toMatch(/^[\x20-\x7e\n]*$/);
    const golden = join(dir, 'expected.diagnostics');
    const expected = readGolden(golden, actual);
    if (expected === undefined) throw new Error(`${golden} is missing (UPDATE_GOLDEN=1 writes it)`);
    expect(actual).toBe(expected);
    expect(existsSync(golden)).toBe(true);
  });
});
