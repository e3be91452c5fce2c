import * as z from 'zod';
import type { DiagnosticCode } from '../codes.js';
import { EXPECT, isDNS1123Label, isDNS1123Subdomain, isLabelKey, isLabelValue } from '../words.js';
import { fail, leaf, message, ok, word } from './fields.js';

export const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Sets an own property even for keys like `__proto__`, which plain assignment would not. */
export function setOwn<T>(o: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Labels (or a selector): every key a qualified name, every value a label value, all strings. Bad
 * keys are reported at the key itself, bad values at the value.
 */
export function labelMap(code: DiagnosticCode = 'invalid-label'): z.ZodType<Record<string, string>, unknown> {
  return z.unknown().transform((v, ctx): Record<string, string> => {
    if (!isMapping(v)) {
      ctx.addIssue({ code: 'custom', message: message('a mapping of label keys to string values', v), params: { code: 'invalid-type' }, input: v });
      return z.NEVER;
    }
    const out: Record<string, string> = {};
    let bad = false;
    for (const [k, val] of Object.entries(v)) {
      if (!isLabelKey(k)) {
        ctx.addIssue({ code: 'custom', message: message(EXPECT.labelKey, k), path: [k], params: { code, atKey: true }, input: k });
        bad = true;
      }
      if (typeof val !== 'string' || !isLabelValue(val)) {
        ctx.addIssue({ code: 'custom', message: message(EXPECT.labelValue, val), path: [k], params: { code }, input: val });
        bad = true;
      }
      if (!bad) setOwn(out, k, val as string);
    }
    return bad ? z.NEVER : out;
  });
}

/** `metadata.namespace`: a DNS-1123 label; absent or empty means `default`, as kubectl applies it. */
export const namespace = leaf(
  (v) => (v === '' ? ok('default') : typeof v === 'string' && isDNS1123Label(v) ? ok(v) : fail('invalid-namespace', EXPECT.dns1123Label)),
  EXPECT.dns1123Label,
).default('default');

/** Annotation keys only (their values never reach the output). */
export const annotationKeys = z
  .unknown()
  .transform((v, ctx): string[] => {
    if (!isMapping(v)) {
      ctx.addIssue({ code: 'custom', message: message('a mapping', v), params: { code: 'invalid-type' }, input: v });
      return z.NEVER;
    }
    return Object.keys(v);
  })
  .optional();

export function namespacedMetadata(name: z.ZodType<string, unknown>) {
  return z.object({ name, namespace, labels: labelMap().default({}), annotations: annotationKeys });
}

export function clusterMetadata(name: z.ZodType<string, unknown>) {
  return z.object({ name, labels: labelMap().default({}) });
}

export const subdomainName = (code: DiagnosticCode = 'invalid-name') =>
  word(isDNS1123Subdomain, code, EXPECT.dns1123Subdomain);
