// postgres.js as zero-cache uses it for its replication connection
// (connection: { replication: 'database' }, fetch_types off, max 1), through
// pgwarden: IDENTIFY_SYSTEM, then postgres.js's own logical subscription
// (CREATE_REPLICATION_SLOT ... TEMPORARY LOGICAL pgoutput, START_REPLICATION,
// CopyBoth with its standby status updates) receiving a row inserted through
// pgwarden by a normal client.
import assert from 'node:assert/strict';
import postgres from 'postgres';

const opts = {
  host: '127.0.0.1', port: Number(process.env.PROXY_PORT),
  user: 'app', pass: 'app-pw', database: 'app', onnotice: () => {},
};

const repl = postgres({
  ...opts, max: 1, fetch_types: false, idle_timeout: null, max_lifetime: null,
  connection: { replication: 'database', application_name: 'zero-replicator' },
});
const [sys] = await repl.unsafe('IDENTIFY_SYSTEM');
assert.match(String(sys.systemid), /^\d+$/);
assert.equal(Number(sys.timeline), 1);
assert.match(sys.xlogpos, /^[0-9A-F]+\/[0-9A-F]+$/);
assert.equal(sys.dbname, 'app');
console.log(`identify_system ${sys.systemid} ${sys.timeline} ${sys.dbname}`);
await repl.end();

// postgres.js's subscribe() opens its own replication connection the same way.
const sub = postgres({ ...opts, publications: 'pub_items' });
const got = new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('no row from the replication stream')), 20000);
  sub.subscribe('insert:items', (row) => {
    if (row.id === 4242) {
      clearTimeout(timer);
      resolve(row);
    }
  }).catch(reject);
});
// Give START_REPLICATION a moment, then write through a normal pooled client.
await new Promise((r) => setTimeout(r, 1000));
const app = postgres({ ...opts, max: 1 });
await app`insert into items values (4242, 'through pgwarden')`;
const row = await got;
assert.equal(row.note, 'through pgwarden');
console.log(`subscribed insert ${row.id} ${row.note}`);
await app.end();
await sub.end();
console.log('ok');
