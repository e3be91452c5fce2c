import { isServiceChain } from '../kube-proxy/index.js';

const compareBytes = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * What the incremental compiler believes the kernel's nat table holds (service chains only), and
 * so which chains a sync must delete. kube-proxy asks iptables-save for this and rations it; we
 * know what we wrote and delete stale chains on every sync.
 */
export class StaleChainTracker {
  private host: Set<string>;
  /** What the last payload deleted: still there if that restore failed. */
  private lastStale: readonly string[] = [];

  constructor(existingNatChains: readonly string[] = []) {
    this.host = new Set(existingNatChains.filter(isServiceChain));
  }

  /** A full sync writes `active` (the tracker keeps the set): every other chain believed on the host goes. Sorted. */
  fullSync(active: Set<string>): string[] {
    const stale = [...this.host].filter((ch) => !active.has(ch));
    this.host = active;
    return this.done(stale);
  }

  /**
   * A partial sync writes `written` and drops `gone` (the changed Services' chains they no longer
   * have): those of `gone` that are on the host and not written go. Sorted.
   */
  partialSync(written: ReadonlySet<string>, gone: readonly string[]): string[] {
    for (const ch of written) this.host.add(ch);
    const stale = [...new Set(gone)].filter((ch) => !written.has(ch) && this.host.has(ch));
    for (const ch of stale) this.host.delete(ch);
    return this.done(stale);
  }

  /** Before a requested full sync: the host's chains when known, else the last deletions may have failed. */
  reset(hostNatChains?: readonly string[]): void {
    if (hostNatChains !== undefined) this.host = new Set(hostNatChains.filter(isServiceChain));
    else for (const ch of this.lastStale) this.host.add(ch);
  }

  private done(stale: string[]): string[] {
    stale.sort(compareBytes);
    this.lastStale = stale;
    return stale;
  }
}
