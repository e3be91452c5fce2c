// The `svcrules` package: the CLI, and the one-call library API for node agents.
export { compileSources, compileObjects } from './api.js';
export type { CompileApiOptions, CompileApiResult } from './api.js';
export { run, buildProgram } from './program.js';
export type { CliIO } from './io.js';
export { UserError, ExitError } from './errors.js';
export { compile, formatDiagnostic } from '@svcrules/core';
export type { CompileOptions, CompileResult, Diagnostic, Snapshot } from '@svcrules/core';
export { sortLikeKubeProxyTests } from '@svcrules/core';
export { render, renderChunks, parseRuleset } from '@svcrules/iptables';
export type { Ruleset } from '@svcrules/iptables';
export { loadSnapshot, snapshotFromObjects } from '@svcrules/snapshot';
