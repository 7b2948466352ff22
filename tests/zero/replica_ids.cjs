// Prints, as a JSON array, the `id` column of TABLE in zero-cache's replica
// SQLite file, read with the SQLite module of zero's own package (the one
// scripts/install-deps.sh built from source). Usage: node replica_ids.cjs FILE TABLE
'use strict';
const Database = require('@rocicorp/zero-sqlite3');

const [file, table] = process.argv.slice(2);
if (!file || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(table || '')) {
  console.error('usage: node replica_ids.cjs FILE TABLE');
  process.exit(2);
}
try {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  // zero-cache writes the replica in WAL2 mode while we read: a busy retry.
  db.pragma('busy_timeout = 2000');
  const ids = db.prepare(`SELECT id FROM "${table}" ORDER BY id`).all().map((r) => r.id);
  db.close();
  console.log(JSON.stringify(ids));
} catch (e) {
  // Not there yet (initial sync still running): an empty answer, not a failure.
  console.log('[]');
  console.error(String(e && e.message));
}
