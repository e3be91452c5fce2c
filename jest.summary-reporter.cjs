// Prints the run's totals as one plain closing line ("jest: N passed, N failed, N skipped"), the form
// CI reads, after jest's own summary.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const { numPassedTests: passed, numFailedTests: failed, numPendingTests: skipped, numRuntimeErrorTestSuites: broken } = results;
    const suites = broken > 0 ? ` (${broken} test suite${broken === 1 ? '' : 's'} failed to run)` : '';
    process.stdout.write(`\njest: ${passed} passed, ${failed + broken} failed, ${skipped} skipped${suites}\n`);
  }
}
module.exports = SummaryReporter;
