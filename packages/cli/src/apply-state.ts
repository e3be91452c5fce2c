/**
 * `svcrules apply --state FILE`: the Applier's record between runs (@svcrules/applier state.ts). The
 * file is a cache: when it is missing, corrupt or from elsewhere, the run is a full sync that says why.
 */
import { resolve } from 'node:path';
import {
  DEFAULT_STATE_DIR,
  defaultStatePath,
  hostIdentity,
  readStateFile,
  removeStateFile,
  writeStateFile,
  type AppliedState,
  type ApplierStateOptions,
  type InputRecord,
  type ApplyResult,
  type Family,
  type HostFacts,
} from '@svcrules/applier';
import type { CliIO } from './io.js';

export interface StateFlags {
  /** A path, false for --no-state, undefined for the default. */
  state?: string | false;
  netns?: string;
  dryRun?: boolean;
}

/** Where this family's state lives, or undefined with --no-state. With `--family both`, FILE.ipv4 and FILE.ipv6. */
export function statePathFor(io: CliIO, flags: StateFlags, family: Family, bothFamilies: boolean): string | undefined {
  if (flags.state === false) return undefined;
  if (flags.state !== undefined) return resolve(io.cwd, bothFamilies ? `${flags.state}.${family}` : flags.state);
  return defaultStatePath(io.env['SVCRULES_STATE_DIR'] || DEFAULT_STATE_DIR, family, flags.netns);
}

/**
 * The Applier's state options, and the path to save to afterwards (undefined: do not save). A dry run
 * and --no-state start from a full sync. While kube-proxy's canary exists, kube-proxy may rewrite the
 * chains at any time: the state file is removed and none is saved until it is gone.
 */
export async function openState(path: string | undefined, flags: StateFlags, facts: HostFacts): Promise<{ options: ApplierStateOptions; saveTo: string | undefined }> {
  const identity = await hostIdentity({ family: facts.family, netns: flags.netns, iptables: facts.iptables?.text ?? 'none' });
  if (path === undefined || flags.dryRun) return { options: { identity, saved: { reason: 'first apply' } }, saveTo: undefined };
  if (facts.kubeProxyCanary.length > 0) {
    await removeStateFile(path);
    return { options: { identity, saved: { reason: "kube-proxy's KUBE-PROXY-CANARY exists: the chains may have changed since the state was saved" } }, saveTo: undefined };
  }
  return { options: { identity, saved: await readStateFile(path, identity) }, saveTo: path };
}

/**
 * After an apply: save what the host now holds and what it was compiled from. Nothing to save
 * after a no-op partial sync, unless the record of the input changed (an object changed without
 * changing a rule).
 */
export async function saveState(path: string | undefined, r: ApplyResult, inputs?: InputRecord, before?: AppliedState): Promise<void> {
  if (path === undefined || r.state === undefined) return;
  if (r.mode === 'partial' && !r.restored && (inputs === undefined || sameInputs(inputs, before?.inputs))) return;
  await writeStateFile(path, { ...r.state, inputs });
}

function sameInputs(a: InputRecord, b: InputRecord | undefined): boolean {
  if (!b || a.context !== b.context || a.objects.size !== b.objects.size || a.endpoints !== b.endpoints) return false;
  for (const d of a.objects.keys()) if (!b.objects.has(d)) return false;
  return true;
}

/** After a failed apply the host may hold anything: the next run must not trust the file. */
export async function forgetState(path: string | undefined): Promise<void> {
  if (path !== undefined) await removeStateFile(path).catch(() => undefined);
}
