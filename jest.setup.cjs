// Property-test run counts come from the environment so CI and local runs can differ.
const fc = require('fast-check');
fc.configureGlobal({ numRuns: Number(process.env.FC_NUM_RUNS ?? 100) });
