import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '@svcrules/testkit';

// The real process (built bin): exit codes and behaviour on a closed pipe, which in-process tests cannot see.
const root = repoRoot();
const bin = join(root, 'packages/cli/bin/svcrules.js');

describe('the svcrules process', () => {
  test('a reader that closes the pipe early gets no stack trace and a zero exit', () => {
    const r = spawnSync('bash', ['-c', `node ${bin} compile --quiet examples/cluster/cluster.json | head -1`], { cwd: root, encoding: 'utf8' });
    expect(r.stdout).toBe('*filter\n');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  test('bad input exits 1 with the located error and nothing on stdout', () => {
    const r = spawnSync(process.execPath, [bin, 'compile', 'fixtures/errors/readme-example/bad.yaml'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^fixtures\/errors\/readme-example\/bad\.yaml:9:11: Service shop\/web: spec\.ports\[0\]\.port: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('usage errors exit 2; standard input is read with -', () => {
    expect(spawnSync(process.execPath, [bin, 'compile', '--family', 'ipv5', 'x'], { cwd: root }).status).toBe(2);
    const r = spawnSync(process.execPath, [bin, 'compile', '-'], { cwd: root, encoding: 'utf8', input: '{"apiVersion":"v1","kind":"List","items":[]}' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\*filter\n[\s\S]*COMMIT\n$/);
  });
});
