// node-postgres / pg-pool against a real server that goes away: a terminated
// backend, an idle pooled client terminated, pool exhaustion, kill -9 of a
// backend mid-query, and a refused connection.
'use strict';
const pg = require('pg');
const { sleep, log, deadline } = require('./common.cjs');

async function main() {
  deadline(30000);
  const url = process.env.PG_URL;
  const admin = new pg.Client({ connectionString: url, application_name: 'node-admin' });
  admin.on('error', (e) => log('pg', e, { who: 'admin' }));
  await admin.connect();

  const c1 = new pg.Client({ connectionString: url, application_name: 'node-pg-client' });
  c1.on('error', (e) => log('pg', e, { who: 'client' }));
  await c1.connect();
  const pid1 = (await c1.query('select pg_backend_pid() as p')).rows[0].p;
  await admin.query('select pg_terminate_backend($1)', [pid1]);
  await sleep(300);
  try {
    await c1.query('select 1');
  } catch (e) {
    log('pg', e, { who: 'client-after' });
  }

  const pool = new pg.Pool({
    connectionString: url,
    application_name: 'node-pg-pool',
    max: 1,
    connectionTimeoutMillis: 300,
  });
  pool.on('error', (e) => log('pg-pool', e, { who: 'pool-idle' }));
  const pc = await pool.connect();
  const pid2 = (await pc.query('select pg_backend_pid() as p')).rows[0].p;
  pc.release();
  await admin.query('select pg_terminate_backend($1)', [pid2]);
  await sleep(300);
  const held = await pool.connect();
  try {
    await pool.connect();
  } catch (e) {
    log('pg-pool', e, { who: 'pool-checkout' });
  }
  held.release();

  const c4 = new pg.Client({ host: '127.0.0.1', port: Number(process.env.CLOSED_PORT), user: 'x' });
  try {
    await c4.connect();
  } catch (e) {
    log('pg', e, { who: 'refused' });
  }

  const c3 = new pg.Client({ connectionString: url, application_name: 'node-pg-killed' });
  c3.on('error', (e) => log('pg', e, { who: 'killed-client' }));
  await c3.connect();
  const pid3 = (await c3.query('select pg_backend_pid() as p')).rows[0].p;
  const q = c3.query('select pg_sleep(5)').catch((e) => log('pg', e, { who: 'killed-query' }));
  await sleep(200);
  process.kill(pid3, 'SIGKILL');
  await q;
  await sleep(500);
  await pool.end().catch(() => {});
  await admin.end().catch(() => {});
  process.exit(0);
}
main().catch((e) => {
  log('pg', e, { who: 'main' });
  process.exit(1);
});
