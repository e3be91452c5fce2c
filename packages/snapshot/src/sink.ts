import type { Diagnostic } from '@svcrules/core';
import type { DiagnosticCode } from './codes.js';
import type { Located } from './documents.js';

interface Entry {
  readonly d: Diagnostic;
  readonly key: readonly number[];
  readonly seq: number;
}

function compareKeys(a: Entry, b: Entry): number {
  const n = Math.max(a.key.length, b.key.length);
  for (let i = 0; i < n; i++) {
    const x = a.key[i] ?? -1;
    const y = b.key[i] ?? -1;
    if (x !== y) return x - y;
  }
  return a.seq - b.seq;
}

/** Collects diagnostics and hands them back in input order (source, then position in it). */
export class Sink {
  private readonly entries: Entry[] = [];

  add(severity: Diagnostic['severity'], at: Located, object: string | undefined, path: string | undefined, code: DiagnosticCode, message: string): void {
    const d: Diagnostic = {
      code,
      severity,
      message,
      ...(at.origin ? { origin: at.origin } : {}),
      ...(object !== undefined ? { object } : {}),
      ...(path !== undefined && path !== '' ? { path } : {}),
    };
    this.entries.push({ d, key: at.key, seq: this.entries.length });
  }

  error(at: Located, object: string | undefined, path: string | undefined, code: DiagnosticCode, message: string): void {
    this.add('error', at, object, path, code, message);
  }

  warning(at: Located, object: string | undefined, path: string | undefined, code: DiagnosticCode, message: string): void {
    this.add('warning', at, object, path, code, message);
  }

  /** In input order; with `demote`, errors become warnings (--skip-invalid). */
  diagnostics(demote: boolean): Diagnostic[] {
    return [...this.entries].sort(compareKeys).map((e) => (demote && e.d.severity === 'error' ? { ...e.d, severity: 'warning' as const } : e.d));
  }
}
