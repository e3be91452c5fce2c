import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { DEFAULT_NUM_RUNS, numRuns, parseNumRuns, parseSeed, repoRoot, scaledRuns } from '../src/index.js';

describe('FC_NUM_RUNS', () => {
  test('unset means the default; a positive integer is taken as is', () => {
    expect(parseNumRuns(undefined)).toBe(100);
    expect(DEFAULT_NUM_RUNS).toBe(100);
    expect(parseNumRuns('1')).toBe(1);
    expect(parseNumRuns('250')).toBe(250);
    expect(parseNumRuns('100000')).toBe(100000);
  });

  test.each(['', ' ', '0', '-5', '1.5', '1e3', 'abc', '100 ', ' 100', '0x10', 'NaN', 'Infinity', '007'])('%j is refused loudly', (v) => {
    expect(() => parseNumRuns(v)).toThrow(/^FC_NUM_RUNS must be a positive integer .*got "/);
  });

  test('jest.setup.cjs gives fast-check the validated value', () => {
    expect(fc.readConfigureGlobal().numRuns).toBe(parseNumRuns(process.env['FC_NUM_RUNS']));
    expect(numRuns()).toBe(parseNumRuns(process.env['FC_NUM_RUNS']));
  });

  test('scaledRuns follows FC_NUM_RUNS up and down, never below its floor', () => {
    expect(scaledRuns(25, 5, 100)).toBe(25);
    expect(scaledRuns(25, 5, 1000)).toBe(250);
    expect(scaledRuns(25, 5, 10)).toBe(5);
    expect(scaledRuns(8, 2, 1)).toBe(2);
    expect(scaledRuns(2000, 200, 50)).toBe(1000);
    expect(scaledRuns(8, 2, 101)).toBe(9);
  });
});

describe('FC_SEED', () => {
  test('unset, or an integer', () => {
    expect(parseSeed(undefined)).toBeUndefined();
    expect(parseSeed('42')).toBe(42);
    expect(parseSeed('-7')).toBe(-7);
  });
  test.each(['', 'x', '1.5', '99999999999'])('%j is refused', (v) => {
    expect(() => parseSeed(v)).toThrow(/^FC_SEED must be an integer/);
  });
});

test('a whole jest run with an empty FC_NUM_RUNS fails before running any property', () => {
  const root = repoRoot();
  const jest = join(root, 'node_modules', 'jest', 'bin', 'jest.js');
  const r = spawnSync(process.execPath, [jest, '--ci', '--runTestsByPath', 'packages/core/test/probability.test.ts'], {
    cwd: root,
    env: { ...process.env, FC_NUM_RUNS: '' },
    encoding: 'utf8',
  });
  expect(r.status).not.toBe(0);
  expect(r.stdout + r.stderr).toContain('FC_NUM_RUNS must be a positive integer');
  expect(r.stdout + r.stderr).not.toMatch(/Tests:.*passed/);
});

test('no property test fixes its run count or seed (each follows FC_NUM_RUNS / FC_SEED)', () => {
  const root = repoRoot();
  const fixed: string[] = [];
  for (const pkg of readdirSync(join(root, 'packages'))) {
    const dir = join(root, 'packages', pkg, 'test');
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/\b(numRuns|seed)\s*:\s*-?\d/.test(line)) fixed.push(`packages/${pkg}/test/${f}:${i + 1}: ${line.trim()}`);
        });
    }
  }
  expect(fixed).toEqual([]);
});
