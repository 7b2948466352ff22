// postgres.js with its default settings (prepare: true, max: 10), through
// pgwarden in transaction mode: named prepared statements across many
// clients, parameter replay, cancel and COPY in and out.
import assert from 'node:assert/strict';
import postgres from 'postgres';

const opts = {
  host: '127.0.0.1', port: Number(process.env.PROXY_PORT),
  user: 'app', pass: 'app-pw', database: 'app', onnotice: () => {},
};

// 25 independent clients (as 25 app instances would be), each preparing the
// same and different statements, over a pool of a few server connections.
const clients = Array.from({ length: 25 }, (_, i) =>
  postgres({ ...opts, max: 2, connection: { application_name: `worker-${i}` } }));
await Promise.all(clients.map(async (sql, i) => {
  for (let round = 0; round < 8; round++) {
    const [a] = await sql`select ${i}::int * 2 as doubled`;
    assert.equal(a.doubled, i * 2);
    const [b] = await sql`select ${round}::int + ${i}::int as total, current_setting('application_name') as app`;
    assert.equal(b.total, round + i);
    assert.equal(b.app, `worker-${i}`);
  }
}));
await Promise.all(clients.map((sql) => sql.end()));

const sql = postgres({ ...opts, connection: { TimeZone: 'Asia/Tokyo' } });
// Startup parameters follow the client onto whichever server connection it gets.
for (let i = 0; i < 5; i++) {
  const [{ tz }] = await sql`select current_setting('TimeZone') as tz`;
  assert.equal(tz, 'Asia/Tokyo');
}

// Cancel: only the running query is cancelled, with PostgreSQL's own error.
const slow = sql`select pg_sleep(20)`;
setTimeout(() => slow.cancel(), 300);
await assert.rejects(slow, (e) => e.code === '57014');
const [{ v }] = await sql`select 1 as v`;
assert.equal(v, 1);

// COPY in and out.
await sql`delete from items where id between 9000 and 9010`;
const writable = await sql`copy items (id, note) from stdin`.writable();
await new Promise((resolve, reject) => {
  writable.on('finish', resolve);
  writable.on('error', reject);
  writable.end('9001\tnine-oh-one\n9002\tnine-oh-two\n');
});
const readable = await sql`copy (select note from items where id between 9000 and 9010 order by id) to stdout`.readable();
let out = '';
for await (const chunk of readable) out += chunk;
assert.equal(out, 'nine-oh-one\nnine-oh-two\n');

await sql.end();
console.log('ok');
