// Checked once before any suite, so a bad FC_NUM_RUNS / FC_SEED stops the run with one message
// (jest.setup.cjs checks again in every test file, for runs that bypass this file).
module.exports = async function globalSetup() {
  const { parseNumRuns, parseSeed } = require('./packages/testkit/src/runs.ts');
  parseNumRuns(process.env.FC_NUM_RUNS);
  parseSeed(process.env.FC_SEED);
};
