// Shared by the capture scripts: log one error per line as JSON, the way an
// app with a JSON logger would, and bound the script's run time.
'use strict';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function log(lib, err, extra = {}) {
  const rec = { ts: new Date().toISOString(), level: 'error', lib, ...extra };
  if (err) {
    rec.message = err.message;
    if (err.code !== undefined) rec.code = err.code;
    if (err.errno !== undefined) rec.errno = err.errno;
    if (err.severity) rec.severity = err.severity;
  }
  console.log(JSON.stringify(rec));
}
function deadline(ms) {
  setTimeout(() => {
    console.error('capture script timed out');
    process.exit(3);
  }, ms).unref();
}
module.exports = { sleep, log, deadline };
