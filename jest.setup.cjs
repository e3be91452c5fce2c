// Property-test run counts come from the environment so CI and local runs can differ. A bad value
// (empty, not a positive integer) throws here, so every suite fails instead of running zero cases.
const fc = require('fast-check');
const { parseNumRuns, parseSeed } = require('./packages/testkit/src/runs.ts');
const seed = parseSeed(process.env.FC_SEED);
fc.configureGlobal({ numRuns: parseNumRuns(process.env.FC_NUM_RUNS), ...(seed === undefined ? {} : { seed }) });
