// node-postgres (`pg`) with its default Pool settings, through pgwarden in
// transaction mode. Exits non-zero with a message on the first surprise.
import assert from 'node:assert/strict';
import pg from 'pg';

const pool = new pg.Pool({
  host: '127.0.0.1', port: Number(process.env.PROXY_PORT),
  user: 'app', password: 'app-pw', database: 'app',
});

// Many concurrent parameterised queries (unnamed statements).
const sums = await Promise.all(
  Array.from({ length: 60 }, (_, i) => pool.query('select $1::int + 1 as v', [i])));
sums.forEach((r, i) => assert.equal(r.rows[0].v, i + 1));

// Named prepared statements: every pg client prepares 'add-one' once and
// reuses it, while pgwarden moves the clients between server connections.
const named = await Promise.all(Array.from({ length: 80 }, (_, i) =>
  pool.query({ name: 'add-one', text: 'select $1::int + 1 as v', values: [i] })));
named.forEach((r, i) => assert.equal(r.rows[0].v, i + 1));

// A transaction keeps its server connection; its SET LOCAL stays inside it.
const c = await pool.connect();
await c.query('begin');
await c.query("set local application_name = 'inside-tx'");
assert.equal((await c.query("select current_setting('application_name') as a")).rows[0].a, 'inside-tx');
await c.query('commit');

// An error is returned with its SQLSTATE and the connection stays usable.
await assert.rejects(c.query('select 1/0'), (e) => e.code === '22012');
assert.equal((await c.query('select 7 as v')).rows[0].v, 7);
c.release();

await pool.end();
console.log('ok');
