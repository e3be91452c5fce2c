import type { Family } from './netfilter.js';

/** The failing payload line with 3 lines of context either side, numbered as iptables-restore counts. */
export function payloadExcerpt(payload: string, line: number, context = 3): string {
  const lines = payload.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const first = Math.max(1, line - context);
  const last = Math.min(lines.length, line + context);
  const width = String(last).length;
  const out: string[] = [];
  for (let n = first; n <= last; n++) out.push(`${n === line ? '>' : ' '} ${String(n).padStart(width)} | ${lines[n - 1] ?? ''}`);
  return out.join('\n');
}

/** Tables (`*name`) whose COMMIT comes before `line`: iptables-restore commits table by table, so those were applied. */
export function tablesCommittedBefore(payload: string, line: number): string[] {
  const done: string[] = [];
  let table: string | undefined;
  const lines = payload.split('\n');
  for (let n = 1; n < line && n <= lines.length; n++) {
    const text = lines[n - 1]!.trim();
    if (text.startsWith('*')) table = text.slice(1);
    else if (text === 'COMMIT' && table !== undefined) {
      done.push(table);
      table = undefined;
    }
  }
  return done;
}

/**
 * iptables-restore refused the payload. The host keeps its previous rules for the failing table and
 * every table after it; tables committed earlier in the same payload (`committedTables`) were applied.
 */
export class RestoreError extends Error {
  constructor(
    readonly family: Family,
    readonly command: string,
    /** The line iptables-restore reported (1-based), or undefined when it named none. */
    readonly line: number | undefined,
    /** The line the problem really is on, when it differs (nft reports a missing jump target at COMMIT). */
    readonly culpritLine: number | undefined,
    readonly reason: string,
    readonly excerpt: string,
    readonly committedTables: readonly string[],
    readonly stderr: string,
  ) {
    const where =
      line === undefined
        ? ''
        : culpritLine !== undefined && culpritLine !== line
          ? ` at payload line ${line} (reported at COMMIT; the offending rule is line ${culpritLine})`
          : ` at payload line ${line}`;
    const committed = committedTables.length > 0 ? `\nnote: tables committed before the failure were applied: ${committedTables.join(', ')}` : '';
    super(`${command} failed${where}: ${reason}${excerpt ? `\n${excerpt}` : ''}${committed}`);
    this.name = 'RestoreError';
  }
}

/** Another process held the xtables lock longer than the bounded wait. */
export class XtablesLockError extends Error {
  constructor(
    readonly lockFile: string,
    readonly waitSeconds: number,
    /** `pid (comm)` of the holder when /proc/locks told us, else undefined. */
    readonly holder: string | undefined,
    readonly command: string,
  ) {
    super(
      `${command}: the xtables lock ${lockFile} is held by another process${holder ? ` (${holder})` : ''}; ` +
        `gave up after waiting ${waitSeconds} s. Retry when it is released, or find the holder with: fuser -v ${lockFile}`,
    );
    this.name = 'XtablesLockError';
  }
}

/** An iptables/iptables-save invocation failed for a reason other than the lock. */
export class NetfilterCommandError extends Error {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly code: number,
    readonly stderr: string,
  ) {
    super(`${command} ${args.join(' ')} exited with ${code}: ${stderr.trim() || '(no message)'}`);
    this.name = 'NetfilterCommandError';
  }
}

/** A live kube-proxy owns the KUBE-* chains; two writers would clobber each other. */
export class KubeProxyPresentError extends Error {
  constructor(
    readonly family: Family,
    readonly tables: readonly string[],
  ) {
    super(
      `refusing to apply: a live kube-proxy owns the ${family} KUBE-* chains (its KUBE-PROXY-CANARY chain exists in ${tables.join(', ')}). ` +
        'Two writers would overwrite each other; stop kube-proxy first, or pass force to override.',
    );
    this.name = 'KubeProxyPresentError';
  }
}
