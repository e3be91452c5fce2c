import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@svcrules/testkit';
import { runCli } from './run-cli.js';

/** README.md as a user runs it from a clone: its imports resolve, its svcrules commands work. */
const root = repoRoot();
const readme = readFileSync(join(root, 'README.md'), 'utf8');

describe('README.md', () => {
  test('every package the README names imports from the repository root, built, without the source condition', () => {
    const named = [...new Set([...readme.matchAll(/`(svcrules|@svcrules\/[a-z]+)`/g)].map((m) => m[1]!))].filter((p) => p !== 'svcrules' || readme.includes("from 'svcrules'"));
    const imports = [...readme.matchAll(/^import \{([^}]+)\} from '([^']+)';$/gm)].map((m) => ({ names: m[1]!.split(',').map((n) => n.trim()), from: m[2]! }));
    expect(named.sort()).toEqual(['@svcrules/applier', '@svcrules/core', '@svcrules/iptables', '@svcrules/snapshot', 'svcrules']);
    expect(imports.length).toBeGreaterThan(0);
    const checks = [...named.map((p) => ({ names: [] as string[], from: p })), ...imports];
    const script = checks.map((c, i) => `import * as m${i} from '${c.from}'; for (const n of ${JSON.stringify(c.names)}) if (!(n in m${i})) throw new Error('${c.from} lacks ' + n);`).join('\n');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `${script}\nprocess.stdout.write('ok')`], { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    expect([r.status, r.stderr.split('\n')[0], r.stdout]).toEqual([0, '', 'ok']);
  });

  test('pnpm exec svcrules prints only the tool output (pnpm -s svcrules echoes the command on stderr)', () => {
    const r = spawnSync('pnpm', ['exec', 'svcrules', '--version'], { cwd: root, encoding: 'utf8' });
    if (r.error) throw r.error;
    expect([r.status, r.stdout, r.stderr]).toEqual([0, '0.1.0\n', '']);
  });

  // The svcrules command lines of the README that need no cluster and no network namespace.
  const commands = readme
    .split('\n')
    .map((l) => l.replace(/^\$ /, ''))
    .filter((l) => l.startsWith('pnpm exec svcrules ') && !/--netns|kubectl /.test(l.replace(/\s#.*$/, '')))
    .map((l) => {
      const dir = /#\s*(fixtures\/\S+)/.exec(l)?.[1] ?? '.';
      const argv = l.replace(/\s#.*$/, '').replace(/\|.*$/, '').trim().split(/\s+/).slice(3);
      return { line: l, dir, argv };
    });

  test('there are runnable commands, and their files exist', () => {
    expect(commands.length).toBeGreaterThanOrEqual(8);
    for (const c of commands) for (const a of c.argv.filter((x) => /\.(ya?ml|json)$/.test(x))) expect([c.line, existsSync(join(root, c.dir, a))]).toEqual([c.line, true]);
  });

  test.each(commands.map((c) => [c.line, c]))('%s', async (_line, c) => {
    const r = await runCli(c.argv, join(root, c.dir));
    // The README's bad-input example is the one meant to fail (exit 1, as it says).
    expect(r.code).toBe(c.argv.includes('bad.yaml') ? 1 : 0);
    if (r.code === 0) expect(r.out.length).toBeGreaterThan(0);
  });

  test('the library example runs as documented', () => {
    expect(execFileSync(process.execPath, ['examples/library/node-agent.mjs'], { cwd: root, encoding: 'utf8' }).length).toBeGreaterThan(0);
  });
});
