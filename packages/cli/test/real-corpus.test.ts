import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '@svcrules/testkit';
import { loadSnapshot } from '@svcrules/snapshot';
import { runCli } from './run-cli.js';

/**
 * fixtures/real/: kubectl output found in public material (fixtures/real/SOURCES says where). Their
 * goldens are checked by fixtures.test.ts; this checks the corpus itself and the promise it is for:
 * a Service with ready endpoints in the dump never gets a "has no endpoints" REJECT.
 */
const ROOT = join(FIXTURES, 'real');
const cases = readdirSync(ROOT).filter((e) => statSync(join(ROOT, e)).isDirectory()).sort();
const sources = readFileSync(join(ROOT, 'SOURCES'), 'utf8')
  .split('\n')
  .filter((l) => l !== '' && !l.startsWith('#'));

const argvOf = (c: string) => readFileSync(join(ROOT, c, 'cmd'), 'utf8').trim().split(/\s+/);
const inputOf = (c: string) => argvOf(c).at(-1)!;

/**
 * `ns/name` of every Service of a case that has an endpoint kube-proxy would use in its input (slices or
 * Endpoints): a ready one, or a serving and terminating one, which kube-proxy falls back to when none is ready.
 */
function servicesWithReadyEndpoints(c: string): string[] {
  const name = inputOf(c);
  const r = loadSnapshot([{ name, text: readFileSync(join(ROOT, c, name), 'utf8') }]);
  if (r.diagnostics.some((d) => d.severity === 'error')) return [];
  const usable = (e: { ready?: boolean; serving?: boolean; terminating?: boolean }) => e.ready !== false || (e.serving === true && e.terminating === true);
  const ready = new Set(r.snapshot.endpointSlices.filter((s) => s.endpoints.some(usable)).map((s) => `${s.namespace}/${s.serviceName}`));
  return r.snapshot.services.map((s) => `${s.namespace}/${s.name}`).filter((k) => ready.has(k));
}

/** The REJECT rules a compiled ruleset has for these Services. */
const rejectsFor = (out: string, services: readonly string[]) =>
  out.split('\n').filter((l) => l.includes(' -j REJECT') && services.some((s) => l.includes(`--comment "${s}:`) || l.includes(`--comment "${s} `)));

describe('fixtures/real (real kubectl output)', () => {
  test('at least 15 cases, each with its source in SOURCES, and no source without its case', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
    expect(sources.map((l) => l.slice(0, l.indexOf(':')))).toEqual(cases);
    for (const l of sources) expect(l).toMatch(/^[a-z0-9-]+: https:\/\/github\.com\/\S+ \(.{10,}\)$/);
  });

  test('the corpus has Services with ready endpoints to check, from several real dumps', () => {
    expect(cases.flatMap(servicesWithReadyEndpoints).length).toBeGreaterThanOrEqual(15);
    const inputs = new Set(cases.filter((c) => servicesWithReadyEndpoints(c).length > 0).map((c) => readFileSync(join(ROOT, c, inputOf(c)), 'utf8')));
    expect(inputs.size).toBeGreaterThanOrEqual(9);
  });

  test.each(cases)('%s: no Service with ready endpoints gets a REJECT', async (c) => {
    const services = servicesWithReadyEndpoints(c);
    const { out } = await runCli(argvOf(c), join(ROOT, c));
    expect(rejectsFor(out, services)).toEqual([]);
  });

  test('the check catches the REJECTs the mirroring controller alone would give (--endpoints-as-mirrored)', async () => {
    const c = 'cka-lab-kubernetes-svc-ep';
    const services = servicesWithReadyEndpoints(c);
    const { out } = await runCli(['compile', '--endpoints-as-mirrored', inputOf(c)], join(ROOT, c));
    expect(rejectsFor(out, services)).toEqual([expect.stringContaining('"default/kubernetes:https has no endpoints"')]);
  });
});
