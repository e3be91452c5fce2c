import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '@svcrules/testkit';
import { compileObjects, compileSources } from '../src/api.js';

const root = repoRoot();

describe('library API', () => {
  test('examples/library/node-agent.mjs runs and prints what the CLI prints for the same snapshot', () => {
    const r = spawnSync(process.execPath, [join(root, 'examples/library/node-agent.mjs')], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(root, 'examples/basic/expected.out'), 'utf8'));
    expect(r.stderr).toContain('6 service ports, 9 endpoint chains');
    expect(r.stderr).toMatch(/rejected: .*Service default\/web: spec\.ports\[0\]\.port: /);
  });

  test('compileSources reports located errors and no text', () => {
    const r = compileSources([{ name: 'a.yaml', text: 'apiVersion: v1\nkind: Service\nmetadata: {name: Bad_Name, namespace: x}\nspec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}\n' }]);
    expect(r.ok).toBe(false);
    expect(r.text).toBe('');
    expect(r.diagnostics[0]).toMatchObject({ severity: 'error', origin: { file: 'a.yaml', line: 3 }, path: 'metadata.name' });
  });

  test('compileObjects with skipInvalid compiles the valid objects and keeps the warnings', () => {
    const good = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ok', namespace: 'default' }, spec: { clusterIP: '10.0.0.1', ports: [{ port: 80 }] } };
    const bad = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'bad', namespace: 'default' }, spec: { clusterIP: '10.0.0.2', ports: [{ port: 0 }] } };
    const r = compileObjects([good, bad], { skipInvalid: true, masqueradeMark: '0x4000' });
    expect(r.ok).toBe(true);
    expect(r.text).toContain('"default/ok has no endpoints"');
    expect(r.text).not.toContain('default/bad');
    expect(r.diagnostics.some((d) => d.severity === 'warning' && d.object === 'Service default/bad')).toBe(true);
  });
});
