import type * as Yaml from 'yaml';

/** What this module needs of Node (the package builds without Node's types). */
interface NodeProcess {
  getBuiltinModule(id: 'node:module'): { createRequire(from: string): (id: string) => unknown };
}

let lib: typeof Yaml | undefined;

/**
 * The yaml package, loaded on first use: JSON input and the YAML our own reader takes
 * (fast-yaml.ts) never need it, and importing it is a large part of the CLI's start-up.
 * Synchronous (loading is), through Node's require (`process.getBuiltinModule`: Node ≥ 20.16).
 */
export function yamlLib(): typeof Yaml {
  if (lib === undefined) {
    const { process } = globalThis as unknown as { process: NodeProcess };
    lib = process.getBuiltinModule('node:module').createRequire((import.meta as unknown as { url: string }).url)('yaml') as typeof Yaml;
  }
  return lib;
}
