import type * as z from 'zod';
import type { DiagnosticCode } from './codes.js';
import { DIAGNOSTIC_CODES } from './codes.js';
import type { Path } from './schemas/kind.js';
import { quote, show } from './words.js';

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
};

/** `spec.ports[0].port`; keys that are not plain identifiers are bracketed and quoted. */
export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${quote(seg)}]`;
  }
  return out;
}

/** A zod issue as our diagnostic parts: custom issues carry their code; structural ones are typed. */
export function fromIssue(issue: z.core.$ZodIssue): { path: Path; code: DiagnosticCode; message: string; atKey: boolean } {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const params = (issue as { params?: { code?: string; atKey?: boolean } }).params;
  if (issue.code === 'custom' && params?.code !== undefined && params.code in DIAGNOSTIC_CODES) {
    return { path, code: params.code as DiagnosticCode, message: issue.message, atKey: params.atKey === true };
  }
  const input = (issue as { input?: unknown }).input;
  if (issue.code === 'invalid_type') {
    const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
    if (input === undefined) return { path, code: 'missing-field', message: `required field is missing (expected ${expected})`, atKey: false };
    return { path, code: 'invalid-type', message: `expected ${expected}, got ${show(input)}`, atKey: false };
  }
  return { path, code: 'invalid-type', message: issue.message.replace(/\s+/g, ' '), atKey: false };
}
