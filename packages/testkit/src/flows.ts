/**
 * kube-proxy packet-flow expectations (fixtures/trace/README.md): `flows.yaml` beside an upstream
 * case, one entry per Go `packetFlowTest`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export interface PacketFlow {
  readonly name: string;
  readonly sourceIP: string;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
  readonly destIP: string;
  readonly destPort: number;
  /** kube-proxy's tracePacket output: endpoints and verdicts joined with ", " ('' for none). */
  readonly output: string;
  readonly masq: boolean;
  readonly nodeIPs: readonly string[];
}

/** Reads `<dir>/flows.yaml`. */
export function readFlows(dir: string): PacketFlow[] {
  const flows = parse(readFileSync(join(dir, 'flows.yaml'), 'utf8')) as PacketFlow[];
  if (!Array.isArray(flows)) throw new Error(`${dir}/flows.yaml: not a list`);
  return flows;
}
