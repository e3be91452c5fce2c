import type * as z from 'zod';
import type { DiagnosticCode } from '../codes.js';

/** A field path inside one object, as zod reports it: `['spec', 'ports', 0, 'port']`. */
export type Path = readonly (string | number)[];

/** Where the semantic checks of a kind report what the schema alone cannot see. */
export interface BuildContext {
  error(path: Path, code: DiagnosticCode, message: string, opts?: { readonly atKey?: boolean }): void;
  warning(path: Path, code: DiagnosticCode, message: string): void;
}

/**
 * One kind svcrules reads: its zod schema (structure, field grammars, defaults, canonical forms)
 * and `build`, which runs the cross-field checks and returns the model object. The loader keeps the
 * result only when neither step reported an error.
 */
export interface KindModule<D, M> {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespaced: boolean;
  readonly schema: z.ZodType<D, unknown>;
  build(doc: D, ctx: BuildContext): M;
}
