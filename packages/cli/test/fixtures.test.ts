import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, caseName, findCases, readGolden, repoRoot } from '@svcrules/testkit';
import { run } from '../src/program.js';
import { runCli } from './run-cli.js';

/** Runs `svcrules <cmd>` in process with the case folder as working directory. */
async function runCase(dir: string): Promise<{ out: string; err: string; code: number }> {
  return runCli(readFileSync(join(dir, 'cmd'), 'utf8').trim().split(/\s+/), dir);
}

// The examples are cases too: their compiled output is checked in beside them.
const cases = [...findCases(FIXTURES, 'cmd'), ...findCases(join(repoRoot(), 'examples'), 'cmd')];

describe('CLI golden fixtures (fixtures/**/cmd, examples/**/cmd)', () => {
  test('there are fixtures', () => expect(cases.length).toBeGreaterThan(0));

  test.each(cases.map((d) => [caseName(d), d]))('%s', async (_name, dir) => {
    const { out, err, code } = await runCase(dir);
    const expectedOut = readGolden(join(dir, 'expected.out'), out);
    const expectedErr = readGolden(join(dir, 'expected.err'), err === '' ? undefined : err);
    const expectedCode = readGolden(join(dir, 'expected.code'), code === 0 ? undefined : `${code}\n`);
    if (expectedOut === undefined) {
      throw new Error(`missing golden ${caseName(join(dir, 'expected.out'))}: run UPDATE_GOLDEN=1 pnpm exec jest packages/cli/test/fixtures -t '${caseName(dir)}' and review the diff`);
    }
    expect(err).toBe(expectedErr ?? '');
    expect(out).toBe(expectedOut);
    expect(code).toBe(expectedCode === undefined ? 0 : Number(expectedCode));
  });

  test('no orphan goldens: every expected.* belongs to a case', () => {
    const orphans: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/^expected\.(out|err|code)$/.test(e.name) && !existsSync(join(dir, 'cmd'))) orphans.push(caseName(p));
      }
    };
    for (const top of ['compile', 'errors', 'endpoints']) if (existsSync(join(FIXTURES, top))) walk(join(FIXTURES, top));
    expect(orphans).toEqual([]);
  });
});

describe('fixtures/divergences.txt (where svcrules deliberately differs from kube-proxy)', () => {
  const lines = readFileSync(join(FIXTURES, 'divergences.txt'), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'));
  const names = lines.map((l) => l.slice(0, l.indexOf(':')));

  test('every entry names an existing case and gives a reason', () => {
    const root = repoRoot();
    for (const l of lines) {
      const name = l.slice(0, l.indexOf(':'));
      const dir = name.startsWith('examples/') ? join(root, name) : join(FIXTURES, name);
      expect([name, existsSync(dir)]).toEqual([name, true]);
      expect(l.slice(name.length + 1).trim().length).toBeGreaterThan(10);
    }
  });

  test('entries are sorted and unique', () => {
    expect(names).toEqual([...new Set(names)].sort());
  });
});
