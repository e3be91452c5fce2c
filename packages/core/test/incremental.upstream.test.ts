/**
 * The incremental compiler against kube-proxy's partial-sync tests (fixtures/incremental/upstream,
 * transcribed from proxier_test.go; each step-NN.yaml is the whole snapshot after the step). The
 * payloads are compared after kube-proxy's test normalisation, as the Go tests compare them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { render } from '@svcrules/iptables';
import { sortLikeKubeProxyTests } from '../src/kube-proxy/iptables-test-order.js';
import type { Ruleset } from '@svcrules/iptables';
// core cannot depend on @svcrules/snapshot (which depends on core): the loader is imported by path.
import { loadSnapshot } from '../../snapshot/src/index.js';
import { createIncrementalCompiler } from '../src/incremental.js';
import type { IncrementalCompiler, IncrementalResult } from '../src/incremental.js';
import type { Snapshot } from '../src/model.js';

const ROOT = join(__dirname, '../../../fixtures/incremental/upstream');

type Scalar = string | number | boolean;
type Step = Record<string, Scalar | Record<string, Scalar | string[] | Record<string, Scalar>>>;

/** The steps.yaml shape only (a list of maps two levels deep, string lists): not a YAML parser. */
function parseSteps(text: string): { flags: string; steps: Step[] } {
  const scalar = (v: string): Scalar => {
    const t = v.trim();
    if (/^".*"$/.test(t)) return t.slice(1, -1);
    if (/^-?\d+$/.test(t)) return Number(t);
    if (t === 'true' || t === 'false') return t === 'true';
    return t;
  };
  let flags = '';
  const steps: Step[] = [];
  let step: Step | undefined;
  let l2: Record<string, Scalar | string[] | Record<string, Scalar>> | undefined;
  let l3: Record<string, Scalar> | string[] | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const indent = line.length - line.trimStart().length;
    const body = line.trim();
    if (indent === 0 && body.startsWith('flags:')) flags = body.slice(6).trim();
    else if (indent === 2 && body.startsWith('- ')) {
      steps.push((step = {}));
      const [k, v] = body.slice(2).split(/:(.*)/s) as [string, string];
      step[k] = scalar(v);
    } else if (indent === 4 && step) {
      const [k, v] = body.split(/:(.*)/s) as [string, string];
      if (v.trim() === '') step[k] = l2 = {};
      else step[k] = scalar(v);
    } else if (indent === 6 && l2) {
      const [k, v] = body.split(/:(.*)/s) as [string, string];
      if (v.trim() === '') l2[k] = l3 = [];
      else l2[k] = scalar(v);
    } else if (indent === 8 && l3 && l2) {
      if (body.startsWith('- ')) (l3 as string[]).push(String(scalar(body.slice(2))));
      else {
        // A nested map: the list made at indent 6 was really a map.
        const key = Object.keys(l2).find((k) => l2![k] === l3)!;
        if (Array.isArray(l3)) l2[key] = l3 = {};
        const [k, v] = body.split(/:(.*)/s) as [string, string];
        (l3 as Record<string, Scalar>)[k] = scalar(v);
      }
    }
  }
  return { flags, steps };
}

function load(dir: string, file: string): Snapshot {
  const r = loadSnapshot([{ name: file, text: readFileSync(join(dir, file), 'utf8') }]);
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return r.snapshot;
}

/** The fake of kube-proxy's tests, as the fixtures' `flags` line says. */
function optionsFrom(flags: string) {
  expect(flags).toBe('--sort --masquerade-mark 0x4000 --no-random-fully');
  return { masqueradeMark: '0x4000', randomFully: false };
}

function run(c: IncrementalCompiler, dir: string, step: Step): IncrementalResult {
  if (step.sync === 'full' && step.step !== 0) c.requestFullSync();
  const r = c.replace(load(dir, String(step.snapshot)));
  expect(r.sync).toBe(step.sync);
  return r;
}

const sorted = (r: Ruleset) => render(sortLikeKubeProxyTests(r));

describe('incremental compiler vs kube-proxy partial syncs', () => {
  it('TestSyncProxyRulesRepeated: every payload equals the Go test\'s, after its normalisation', () => {
    const dir = join(ROOT, 'TestSyncProxyRulesRepeated');
    const { flags, steps } = parseSteps(readFileSync(join(dir, 'steps.yaml'), 'utf8'));
    expect(steps).toHaveLength(9);
    const c = createIncrementalCompiler(optionsFrom(flags));
    for (const step of steps) {
      const r = run(c, dir, step);
      expect({ step: step.step, payload: sorted(r.payload) }).toEqual({ step: step.step, payload: readFileSync(join(dir, String(step.expected)), 'utf8') });
    }
  });

  it('TestSyncProxyRulesLargeClusterMode: the Go checks, except where we are deliberately better', () => {
    const dir = join(ROOT, 'TestSyncProxyRulesLargeClusterMode');
    const { flags, steps } = parseSteps(readFileSync(join(dir, 'steps.yaml'), 'utf8'));
    expect(steps).toHaveLength(7);
    const c = createIncrementalCompiler(optionsFrom(flags));
    for (const step of steps) {
      const r = run(c, dir, step);
      const text = render(r.payload);
      const dnat = text.split('\n').filter((l) => l.startsWith('-A KUBE-SEP-') && l.includes('-j DNAT'));
      const checks = step.checks as { dnatLine?: { containing: string; equals: string }; dnatCount: number; dnatWithCommentCount?: number; contains?: string[]; notContains?: string[] };
      const line = checks.dnatLine;
      if (step.step === 1) {
        // kube-proxy rewrites only svc3 when large-cluster mode starts, leaving 998 SEP rules with
        // comments in the kernel until the next full sync; we rewrite every Service that changed.
        expect(r.changedServices).toEqual(['ns1/svc1', 'ns2/svc2', 'ns3/svc3']);
        expect(dnat).toHaveLength(1001);
        expect(dnat.filter((l) => l.includes('--comment'))).toHaveLength(0);
      } else {
        expect(dnat).toHaveLength(checks.dnatCount);
        if (checks.dnatWithCommentCount !== undefined) expect(dnat.filter((l) => l.includes('--comment'))).toHaveLength(checks.dnatWithCommentCount);
      }
      if (line) expect(dnat.filter((l) => l.includes(line.containing)).pop() ?? '').toBe(line.equals);
      if (step.step === 4) {
        // kube-proxy defers "-X" in large-cluster mode (it needs an iptables-save); we know which
        // chains we wrote and delete svc4's at once.
        expect(r.staleChains).toEqual(['KUBE-SEP-SU5STNODRYEWJAUF', 'KUBE-SVC-EBDQOQU5SJFXRIL3']);
        expect(step.cleanupDue).toBe(false);
        expect(checks.notContains).toEqual(['-X ']);
      } else if (step.step === 5) {
        expect(r.staleChains).toEqual([]);
        for (const s of checks.contains ?? []) expect(s).toMatch(/^-X /);
      } else {
        for (const s of checks.contains ?? []) expect(text).toContain(s);
        for (const s of checks.notContains ?? []) expect(text).not.toContain(s);
      }
    }
  });
});
