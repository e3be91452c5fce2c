import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/** The repository root: the nearest folder above the working directory with pnpm-workspace.yaml. */
export function repoRoot(from: string = process.cwd()): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no pnpm-workspace.yaml above ${from}`);
  }
}

/** The repository's fixtures folder. */
export const FIXTURES = join(repoRoot(), 'fixtures');

/** Every folder below `root` that holds a file named `marker` (a fixture case), sorted. */
export function findCases(root: string, marker: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    if (existsSync(join(dir, marker))) out.push(dir);
    for (const entry of readdirSync(dir).sort()) {
      const p = join(dir, entry);
      if (statSync(p).isDirectory()) walk(p);
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}

export const caseName = (dir: string) => relative(repoRoot(), dir);
