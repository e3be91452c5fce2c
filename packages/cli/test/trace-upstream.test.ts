/**
 * kube-proxy's packet-flow expectations (runPacketFlowTests in proxier_test.go @531be812), ported as
 * fixtures/trace/upstream/<case>/ and fixtures/compile/upstream/<case>/flows.yaml: compile each case's
 * input with its flags, trace every flow with the real-netfilter tracer, and compare kube-proxy's view
 * of the result (output string and masq flag) with the Go test's expectation.
 *
 * kube-proxy's tracer is a simplification (fixtures/trace/README.md). The mapping from our outcomes:
 * - path: a flow whose source is one of the local addresses is node-originated (nat OUTPUT, filter
 *   OUTPUT, INPUT when the destination is local); any other source arrives from outside (nat
 *   PREROUTING, then filter INPUT or FORWARD). kube-proxy's hooks send both OUTPUT and PREROUTING to
 *   nat KUBE-SERVICES, so the nat walk is the same.
 * - output tokens: a DROP/REJECT outcome is its verdict; an accepted outcome is its DNAT destination,
 *   or `ACCEPT` when an ACCEPT rule of kube-proxy's four filter chains accepted it, else nothing.
 * - masq: some outcome's walk jumped to KUBE-MARK-MASQ (kube-proxy's markMasq). Separately, for every
 *   accepted outcome, "jumped to KUBE-MARK-MASQ" must equal "masqueraded in nat POSTROUTING": the real
 *   mark-then-masquerade mechanism agrees with kube-proxy's shortcut.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KUBE_PROXY_HOOKS } from '@svcrules/core';
import { parseRuleset, tracePacket, type Ruleset, type TraceOutcome, type TraceResult } from '@svcrules/iptables';
import { FIXTURES, caseName, findCases, readFlows, type PacketFlow } from '@svcrules/testkit';
import { runCli } from './run-cli.js';

type Flow = PacketFlow;

const svcrules = (argv: string[], dir: string) => runCli(argv, dir);

/**
 * TestTracePacket's hand-written dump has hook rules with unquoted multi-word comments
 * (`--comment kubernetes service portals`), which Go's lenient parser reads as the comment
 * `kubernetes` plus ignored words and which iptables-restore would reject. Quote them, so the dump
 * means what the Go test meant (see its SOURCE).
 */
function quoteGoComments(text: string): string {
  return text.replace(/--comment ((?:[^"\s-][^\s]*)(?: [^"\s-][^\s]*)+)(?= -j )/g, '--comment "$1"');
}

/** The case's ruleset: `svcrules compile <args> input.yaml`, or input.rules as-is. */
async function caseRuleset(dir: string): Promise<{ ruleset: Ruleset; compileArgs: string[] }> {
  if (existsSync(join(dir, 'input.rules'))) {
    return { ruleset: parseRuleset(quoteGoComments(readFileSync(join(dir, 'input.rules'), 'utf8'))), compileArgs: [] };
  }
  const compileArgs = existsSync(join(dir, 'compile-args'))
    ? readFileSync(join(dir, 'compile-args'), 'utf8').trim().split(/\s+/)
    : readFileSync(join(dir, 'cmd'), 'utf8').trim().split(/\s+/).filter((w) => w !== 'compile' && w !== '--sort' && w !== 'input.yaml');
  const { out, err, code } = await svcrules(['compile', ...compileArgs, 'input.yaml'], dir);
  if (code !== 0) throw new Error(`svcrules compile failed (${code}): ${err}`);
  return { ruleset: parseRuleset(out), compileArgs };
}

const KUBE_FILTER_CHAINS = new Set(['KUBE-SERVICES', 'KUBE-EXTERNAL-SERVICES', 'KUBE-NODEPORTS', 'KUBE-PROXY-FIREWALL']);

function marked(o: TraceOutcome): boolean {
  return o.events.some((e) => e.effect === 'jump' && e.target === 'KUBE-MARK-MASQ');
}

/** kube-proxy's tracePacket view of a trace: the output tokens and the masq flag. */
function kubeProxyView(r: TraceResult): { output: string[]; masq: boolean } {
  const output: string[] = [];
  for (const o of r.outcomes) {
    let token: string | null = null;
    if (o.verdict !== 'ACCEPT') token = o.verdict;
    else if (o.dnat) token = o.dnat.to;
    else if (o.events.some((e) => e.effect === 'accept' && e.table === 'filter' && KUBE_FILTER_CHAINS.has(e.chain))) token = 'ACCEPT';
    if (token !== null && !output.includes(token)) output.push(token);
  }
  return { output, masq: r.outcomes.some(marked) };
}

function localAddresses(nodeIPs: readonly string[]): string[] {
  return [...nodeIPs, '127.0.0.1', '::1'];
}

function traceFlow(ruleset: Ruleset, f: Flow): TraceResult {
  const local = localAddresses(f.nodeIPs);
  return tracePacket(
    ruleset,
    { src: f.sourceIP, dst: f.destIP, protocol: f.protocol.toLowerCase() as 'tcp' | 'udp' | 'sctp', dport: f.destPort },
    { from: local.includes(f.sourceIP) ? 'node' : 'pod', localAddresses: local, hooks: KUBE_PROXY_HOOKS },
  );
}

const cases = [...findCases(join(FIXTURES, 'trace', 'upstream'), 'flows.yaml'), ...findCases(join(FIXTURES, 'compile', 'upstream'), 'flows.yaml')];

describe("kube-proxy's packet-flow tests (fixtures/trace/upstream, fixtures/compile/upstream)", () => {
  test('the ported cases are there', () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  describe.each(cases.map((d) => [caseName(d), d]))('%s', (_name, dir) => {
    const flows = readFlows(dir);
    let ruleset: Ruleset;
    let compileArgs: string[];
    beforeAll(async () => {
      ({ ruleset, compileArgs } = await caseRuleset(dir));
    });

    test.each(flows.map((f) => [f.name, f]))('%s', (_flow, f) => {
      const r = traceFlow(ruleset, f);
      const view = kubeProxyView(r);
      const expected = f.output === '' ? [] : f.output.split(', ');
      expect({ output: [...view.output].sort(), masq: view.masq }).toEqual({ output: [...expected].sort(), masq: f.masq });
      // kube-proxy's order is chain order too.
      expect(view.output).toEqual(expected);
      for (const o of r.outcomes) if (o.verdict === 'ACCEPT') expect(o.masquerade !== null).toBe(marked(o));
    });

    test('the CLI (trace --json) gives the same outcomes as the library', async () => {
      if (existsSync(join(dir, 'input.rules'))) return; // compiled inputs only; --rules is tested elsewhere
      for (const f of flows) {
        const local = localAddresses(f.nodeIPs);
        const args = ['trace', '--src', f.sourceIP, '--dst', `${f.destIP.includes(':') ? `[${f.destIP}]` : f.destIP}:${f.destPort}/${f.protocol.toLowerCase()}`, '--json'];
        for (const a of local) args.push('--local-address', a);
        const { out, err, code } = await svcrules([...args, ...compileArgs, 'input.yaml'], dir);
        expect({ code, err }).toEqual({ code: 0, err: '' });
        const json = JSON.parse(out) as { outcomes: { verdict: string; destination: string; masquerade: unknown; probability: { exact: string } }[] };
        const lib = traceFlow(ruleset, f);
        expect(json.outcomes.map((o) => [o.verdict, o.destination, o.masquerade !== null, o.probability.exact])).toEqual(
          lib.outcomes.map((o) => [o.verdict, o.destination, o.masquerade !== null, o.probability.den === 1n ? String(o.probability.num) : `${o.probability.num}/${o.probability.den}`]),
        );
      }
    });
  });
});
