import type { CompileOptions, CompileResult, Diagnostic, Snapshot } from '@svcrules/core';
import { compile, sortLikeKubeProxyTests } from '@svcrules/core';
import type { Ruleset } from '@svcrules/iptables';
import { render } from '@svcrules/iptables';
import { loadSnapshot, snapshotFromObjects } from '@svcrules/snapshot';

/** Options of the one-call API: compile options plus how to treat invalid objects and the output order. */
export interface CompileApiOptions extends CompileOptions {
  /** Leave invalid objects out (their diagnostics become warnings) instead of refusing the snapshot. */
  readonly skipInvalid?: boolean;
  /** Order the output like kube-proxy's unit tests do (sortIPTablesRules). */
  readonly sort?: boolean;
}

export interface CompileApiResult {
  /** False when an input error (or, without skipInvalid, an invalid object) stopped compilation. */
  readonly ok: boolean;
  /** The iptables-restore text; `''` when not ok. */
  readonly text: string;
  readonly ruleset: Ruleset | undefined;
  /** Input and compile diagnostics, each with file, line, column, object and field. */
  readonly diagnostics: readonly Diagnostic[];
  readonly result: CompileResult | undefined;
  readonly snapshot: Snapshot;
}

function finish(snapshot: Snapshot, inputDiagnostics: readonly Diagnostic[], options: CompileApiOptions): CompileApiResult {
  if (inputDiagnostics.some((d) => d.severity === 'error')) {
    return { ok: false, text: '', ruleset: undefined, diagnostics: inputDiagnostics, result: undefined, snapshot };
  }
  const result = compile(snapshot, options);
  const diagnostics = [...inputDiagnostics, ...result.diagnostics];
  if (result.diagnostics.some((d) => d.severity === 'error')) return { ok: false, text: '', ruleset: undefined, diagnostics, result, snapshot };
  const ruleset = options.sort ? sortLikeKubeProxyTests(result.ruleset) : result.ruleset;
  return { ok: true, text: render(ruleset), ruleset, diagnostics, result, snapshot };
}

/** Compiles kubectl YAML/JSON texts (as `svcrules compile` does, without touching files). */
export function compileSources(sources: readonly { name: string; text: string }[], options: CompileApiOptions = {}): CompileApiResult {
  const loaded = loadSnapshot(sources, { skipInvalid: options.skipInvalid === true });
  return finish(loaded.snapshot, loaded.diagnostics, options);
}

/** Compiles API objects a node agent already holds (e.g. from an informer cache). */
export function compileObjects(objects: readonly unknown[], options: CompileApiOptions = {}): CompileApiResult {
  const loaded = snapshotFromObjects(objects, { skipInvalid: options.skipInvalid === true });
  return finish(loaded.snapshot, loaded.diagnostics, options);
}
