/**
 * Reading and writing the state file (state.ts), and the identity of the host it belongs to.
 * Every problem reading it is a reason for a full sync, never an error: the file is a cache.
 */
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { Family } from './netfilter.js';
import { identityMismatch, parseState, serializeState, StateError, type AppliedState, type HostIdentity } from './state.js';

export const DEFAULT_STATE_DIR = '/var/lib/svcrules';

/** `DIR/host.ipv4.state`, `DIR/netns-NAME.ipv6.state`: one file per namespace and family. */
export function defaultStatePath(dir: string, family: Family, netns: string | undefined): string {
  return join(dir, `${netns === undefined ? 'host' : `netns-${netns}`}.${family}.state`);
}

async function firstLine(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** This machine, boot and namespace as seen from here; `iptables` is the probed `iptables --version`. */
export async function hostIdentity(o: { family: Family; netns: string | undefined; iptables: string }): Promise<HostIdentity> {
  const nsPath = o.netns === undefined ? '/proc/self/ns/net' : join('/run/netns', o.netns);
  const inode = await stat(nsPath).then(
    (s) => String(s.ino),
    () => 'unknown',
  );
  return {
    family: o.family,
    machine: (await firstLine('/etc/machine-id')) ?? `host ${hostname()}`,
    boot: (await firstLine('/proc/sys/kernel/random/boot_id')) ?? 'unknown',
    netns: `${o.netns === undefined ? 'host' : `netns ${o.netns}`} (inode ${inode})`,
    iptables: o.iptables,
  };
}

export type StateRead = { readonly state: AppliedState; readonly reason?: undefined } | { readonly state?: undefined; readonly reason: string };

/** The state in `path` if it is usable for `identity`; otherwise why not (missing, unreadable, corrupt, foreign). */
export function readStateFile(path: string, identity: HostIdentity): Promise<StateRead> {
  return readSealedFile(path, identity, parseState);
}

/**
 * A state file of either backend, read with its parser: the state, or why it cannot be used. Never
 * throws for a bad file (the file is a cache; the caller falls back to a full sync).
 */
export async function readSealedFile<T extends { readonly identity: HostIdentity }>(path: string, identity: HostIdentity, parse: (text: string) => T): Promise<{ readonly state: T; readonly reason?: undefined } | { readonly state?: undefined; readonly reason: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { reason: code === 'ENOENT' ? `no state file ${path}` : `state file ${path} unreadable (${code ?? String(e)})` };
  }
  let state: T;
  try {
    state = parse(text);
  } catch (e) {
    if (e instanceof StateError) return { reason: `state file ${path} is corrupt: ${e.message}` };
    throw e;
  }
  const foreign = identityMismatch(state.identity, identity);
  if (foreign) return { reason: `state file ${path} does not belong here: ${foreign}` };
  return { state };
}

/** Writes the state atomically: a 0600 temporary file in the same directory, fsync, rename. */
export function writeStateFile(path: string, state: AppliedState): Promise<void> {
  return writeFileAtomic(path, serializeState(state));
}

/** `text` to `path` atomically: a 0600 temporary file in the same directory, fsync, rename. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.chmod(0o600);
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Removes the state (after a failed apply, or when kube-proxy owns the host): the next run is full. */
export async function removeStateFile(path: string): Promise<void> {
  await rm(path, { force: true });
}
