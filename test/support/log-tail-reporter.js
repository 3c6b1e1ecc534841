// Prints the last lines of the local stack's server logs when any test failed, so a CI failure
// that comes from the Temporal dev server or moto shows its cause.
const fs = require('node:fs');
const path = require('node:path');

function tail(file, lines) {
  if (!fs.existsSync(file)) return '(no log)';
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
}

class LogTailReporter {
  onRunComplete(_contexts, results) {
    const dir = process.env.CANARY_TEST_LOG_DIR;
    if (!dir || (results.numFailedTests === 0 && results.numRuntimeErrorTestSuites === 0)) return;
    for (const name of ['temporal.log', 'moto.log']) {
      process.stderr.write(`\n--- last lines of ${path.join(dir, name)}\n${tail(path.join(dir, name), 30)}\n`);
    }
  }
}
module.exports = LogTailReporter;
