/**
 * How many cases property tests run. `FC_NUM_RUNS` sets fast-check's global default (jest.setup.cjs);
 * a value that is not a positive integer fails the run instead of silently running zero cases
 * (`Number('')` is 0, `Number('x')` NaN, and fast-check passes a property checked zero times).
 */

/** The default number of runs when FC_NUM_RUNS is unset. */
export const DEFAULT_NUM_RUNS = 100;

/** FC_NUM_RUNS as a positive integer; unset means DEFAULT_NUM_RUNS; anything else throws. */
export function parseNumRuns(value: string | undefined): number {
  if (value === undefined) return DEFAULT_NUM_RUNS;
  if (!/^[1-9][0-9]{0,8}$/.test(value)) {
    throw new Error(`FC_NUM_RUNS must be a positive integer (the number of cases per property test), got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** FC_SEED as an integer seed for fast-check, or undefined when unset; anything else throws. */
export function parseSeed(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?[0-9]{1,10}$/.test(value) || Math.abs(Number(value)) > 2147483647) {
    throw new Error(`FC_SEED must be an integer between -2147483647 and 2147483647, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** This process's FC_NUM_RUNS (validated). */
export const numRuns = (): number => parseNumRuns(process.env['FC_NUM_RUNS']);

/**
 * Runs for a property whose cost differs from the default: `per100` cases when FC_NUM_RUNS is 100,
 * scaled with it, never fewer than `floor`. A slow property (one network namespace per case) asks
 * for few, a cheap one for many, and both still follow FC_NUM_RUNS up and down.
 */
export function scaledRuns(per100: number, floor: number, runs: number = numRuns()): number {
  return Math.max(floor, Math.ceil((per100 * runs) / 100));
}
