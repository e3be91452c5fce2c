import type { Origin } from './model.js';

/**
 * A problem found in the input, as data. `code` is stable (tests and tools match on it);
 * `message` is for people and says what was expected and what was found.
 */
export interface Diagnostic {
  readonly code: string;
  readonly severity: 'error' | 'warning';
  readonly message: string;
  /** File, line and column of the offending value (or of its object when the value is absent). */
  readonly origin?: Origin;
  /** `Kind namespace/name`, e.g. `Service ns1/svc1`. */
  readonly object?: string;
  /** Field path, e.g. `spec.ports[0].port`. */
  readonly path?: string;
}

/** `file:line:col: Kind ns/name: path: message`: one line, the form every command prints. */
export function formatDiagnostic(d: Diagnostic): string {
  const parts: string[] = [];
  if (d.origin) parts.push(`${d.origin.file}:${d.origin.line}:${d.origin.column}`);
  if (d.object) parts.push(d.object);
  if (d.path) parts.push(d.path);
  const head = parts.length > 0 ? parts.join(': ') + ': ' : '';
  return `${head}${d.severity === 'warning' ? 'warning: ' : ''}${d.message} [${d.code}]`;
}
