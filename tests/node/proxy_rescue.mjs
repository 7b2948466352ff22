// node-postgres and postgres.js through pgwarden (transaction or session mode,
// as the proxy is configured) while the server ends their server connections
// under them (pg_terminate_backend, through a direct superuser connection):
// they get an ERROR with a SQLSTATE (08006 lost transaction, 08007 unknown
// outcome, then 25P02 until ROLLBACK), their connections stay usable, and
// nothing crashes or reconnects. An idle client does not notice at all: its
// settings and prepared statements are on its next server connection.
import assert from 'node:assert/strict';
import pg from 'pg';
import postgres from 'postgres';

const proxy = {
  host: '127.0.0.1', port: Number(process.env.PROXY_PORT),
  user: 'app', password: 'app-pw', database: 'app',
};
const admin = new pg.Client({ connectionString: process.env.PG_URL });
await admin.connect();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// A query's error (or a fulfilled value's absence of one), handled from the start.
const settle = (p) => p.then(() => ({ code: 'no error' }), (e) => e);

// Terminates the backend serving `app`, once it is running `like` (or at all).
async function terminate(app, like = '%') {
  for (let i = 0; i < 100; i++) {
    const r = await admin.query(
      `select pg_terminate_backend(pid) as done from pg_stat_activity
        where application_name = $1 and query like $2 and pid <> pg_backend_pid()`, [app, like]);
    if (r.rows.length > 0) return;
    await sleep(50);
  }
  throw new Error(`no backend for ${app} running ${like}`);
}

// ---- node-postgres: one pool, one checked-out client inside a transaction.
const pool = new pg.Pool({ ...proxy, max: 2, application_name: 'rescue-pg' });
let poolErrors = 0;
pool.on('error', () => { poolErrors++; });
const client = await pool.connect();
await client.query('BEGIN');
await client.query('insert into items (id, note) values (9101, $1)', ['lost']);
const { rows: [{ pid }] } = await client.query('select pg_backend_pid() as pid');
await admin.query('select pg_terminate_backend($1)', [pid]);
await sleep(200);
await assert.rejects(client.query('insert into items (id, note) values (9102, $1)', ['x']),
  (e) => e.code === '08006' && /rolled back/.test(e.message));
await assert.rejects(client.query('select 1'), (e) => e.code === '25P02');
await client.query('ROLLBACK');
assert.equal((await client.query('select 41 + 1 as v')).rows[0].v, 42);
client.release();
// A statement running on its own when its backend dies: outcome unknown.
// (Its outcome is taken at once: the rejection may come before terminate() returns.)
const slow = settle(pool.query("select pg_sleep(30) as s, 'rescue-pg-slow' as tag"));
await terminate('rescue-pg', '%rescue-pg-slow%');
assert.equal((await slow).code, '08007');
assert.equal((await pool.query('select 2 as v')).rows[0].v, 2);
assert.equal(poolErrors, 0);
await pool.end();

// ---- postgres.js (zero-cache's driver), one connection, prepared statements.
const sql = postgres({
  ...proxy, pass: proxy.password, max: 1, onnotice: () => {},
  connection: { application_name: 'rescue-postgresjs' },
});
await assert.rejects(sql.begin(async (tx) => {
  await tx`insert into items (id, note) values (9103, ${'lost too'})`;
  const [{ pid: p }] = await tx`select pg_backend_pid() as pid`;
  await admin.query('select pg_terminate_backend($1)', [p]);
  await sleep(200);
  await tx`select ${1}::int as v`;
}), (e) => e.code === '08006');
const [{ v }] = await sql`select ${3}::int as v`;
assert.equal(v, 3);
const running = settle(sql`select pg_sleep(30), ${'rescue-js-slow'}::text as tag`.execute());
await terminate('rescue-postgresjs', '%pg_sleep(30)%');
assert.equal((await running).code, '08007');
const [{ w }] = await sql`select ${4}::int as w`;
assert.equal(w, 4);
await sql.end();

// ---- postgres.js idle between statements: its backend ends, unseen.
const idle = postgres({
  ...proxy, pass: proxy.password, max: 1, onnotice: () => {},
  connection: { application_name: 'rescue-idle' },
});
await idle`set work_mem = '6MB'`;
assert.equal((await idle`select ${1}::int as n`)[0].n, 1);
const [{ pid: idlePid }] = await idle`select pg_backend_pid() as pid`;
await admin.query('select pg_terminate_backend($1)', [idlePid]);
await sleep(200);
assert.equal((await idle`select ${2}::int as n`)[0].n, 2);  // its prepared statement
const [{ pid: newPid, wm }] =
  await idle`select pg_backend_pid() as pid, current_setting('work_mem') as wm`;
assert.notEqual(newPid, idlePid);
assert.equal(wm, '6MB');
await idle.end();

// Nothing of the lost transactions was committed.
const { rows } = await admin.query('select count(*)::int as n from items where id between 9101 and 9103');
assert.equal(rows[0].n, 0);
await admin.end();
console.log('ok');
