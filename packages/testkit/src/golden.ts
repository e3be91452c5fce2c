import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';

/** True when goldens may be rewritten: UPDATE_GOLDEN=1, and never in CI. */
export function updatingGoldens(): boolean {
  if (process.env['UPDATE_GOLDEN'] !== '1') return false;
  if (process.env['CI']) throw new Error('UPDATE_GOLDEN is refused when CI is set: goldens change only by a reviewed commit');
  return true;
}

/**
 * Compares `actual` with the golden file byte for byte. With UPDATE_GOLDEN=1 the file is written
 * instead (and `remove` deletes a golden that should no longer exist). Returns the expected text.
 */
export function readGolden(path: string, actual: string | undefined): string | undefined {
  if (updatingGoldens()) {
    if (actual === undefined) {
      if (existsSync(path)) unlinkSync(path);
    } else writeFileSync(path, actual);
    return actual;
  }
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}
