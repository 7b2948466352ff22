// postgres.js against a real server that goes away: a backend terminated
// mid-query, a query after end(), end({timeout:0}) with a pending query,
// kill -9 of a backend mid-query, and a refused connection.
'use strict';
const postgres = require('postgres');
const { sleep, log, deadline } = require('./common.cjs');

async function main() {
  deadline(30000);
  const url = process.env.PG_URL;
  const opts = (app) => ({ max: 1, onnotice: () => {}, connection: { application_name: app } });
  const admin = postgres(url, opts('node-admin'));

  const s1 = postgres(url, opts('node-postgresjs'));
  const [{ p }] = await s1`select pg_backend_pid() as p`;
  const q1 = s1`select pg_sleep(5)`.catch((e) => log('postgres', e, { who: 'terminated' }));
  await sleep(200);
  await admin`select pg_terminate_backend(${p})`;
  await q1;

  const s2 = postgres(url, opts('node-postgresjs-ended'));
  await s2`select 1`;
  await s2.end();
  try {
    await s2`select 1`;
  } catch (e) {
    log('postgres', e, { who: 'after-end' });
  }

  const s3 = postgres(url, opts('node-postgresjs-destroyed'));
  await s3`select 1`;
  const q3 = s3`select pg_sleep(5)`.catch((e) => log('postgres', e, { who: 'destroyed' }));
  await sleep(200);
  await s3.end({ timeout: 0 });
  await q3;

  const s5 = postgres({ host: '127.0.0.1', port: Number(process.env.CLOSED_PORT), max: 1,
                        connect_timeout: 2 });
  try {
    await s5`select 1`;
  } catch (e) {
    log('postgres', e, { who: 'refused' });
  }
  await s5.end({ timeout: 0 }).catch(() => {});

  const s4 = postgres(url, opts('node-postgresjs-killed'));
  const [{ p: p4 }] = await s4`select pg_backend_pid() as p`;
  const q4 = s4`select pg_sleep(5)`.catch((e) => log('postgres', e, { who: 'killed' }));
  await sleep(200);
  process.kill(p4, 'SIGKILL');
  await q4;
  await sleep(300);
  await s4.end({ timeout: 0 }).catch(() => {});
  await admin.end({ timeout: 0 }).catch(() => {});
  process.exit(0);
}
main().catch((e) => {
  log('postgres', e, { who: 'main' });
  process.exit(1);
});
