// The failover drill's load, against one proxy: node-postgres pool writers,
// postgres.js writers (prepared statements, zero-cache's driver), clients that
// sit idle through the failover, and clients holding a transaction open
// across it. Runs until $STOP_FILE exists; reads the promotion time (epoch ms)
// from $PROMOTED_FILE once it exists; prints one JSON summary.
//   TARGET_PORT, LABEL, STOP_FILE, PROMOTED_FILE, PGPASSWORD
import fs from 'node:fs';
import pg from 'pg';
import postgres from 'postgres';

const port = Number(process.env.TARGET_PORT);
const label = process.env.LABEL;
const conn = { host: '127.0.0.1', port, user: 'postgres', password: process.env.PGPASSWORD, database: 'postgres' };
const stopped = () => fs.existsSync(process.env.STOP_FILE);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const errors = {};          // SQLSTATE (or driver code) → count
const writes = { ok: 0, failed: 0 };
const goodAt = [];          // epoch ms of each good write
let connectionsLost = 0;    // client connections that ended under the load
const note = (e) => {
  const code = e.code || e.errno || 'unknown';
  errors[code] = (errors[code] || 0) + 1;
};

async function writeLoop(write) {
  while (!stopped()) {
    try {
      await write();
      writes.ok++;
      goodAt.push(Date.now());
    } catch (e) {
      writes.failed++;
      note(e);
      await sleep(50);
    }
    await sleep(10);
  }
}

// node-postgres: a pool of 4, as a tRPC API would hold.
const pool = new pg.Pool({ ...conn, max: 4, application_name: `${label}-pg` });
pool.on('error', () => { connectionsLost++; });
// postgres.js: prepared statements over 2 connections.
const sql = postgres({ ...conn, pass: conn.password, max: 2, onnotice: () => {}, connection: { application_name: `${label}-js` } });

// Idle clients: connected before the failover, used once after it.
const idle = [];
for (let i = 0; i < 4; i++) {
  const c = new pg.Client({ ...conn, application_name: `${label}-idle` });
  c.on('error', () => { connectionsLost++; });
  await c.connect();
  await c.query('select 1');
  idle.push(c);
}
// Transactions open across the failover.
const held = [];
for (let i = 0; i < 2; i++) {
  const c = new pg.Client({ ...conn, application_name: `${label}-tx` });
  c.on('error', () => { connectionsLost++; });
  await c.connect();
  await c.query('begin');
  await c.query('insert into drill (src) values ($1)', [`${label}-held`]);
  held.push(c);
}

const loops = [
  ...Array.from({ length: 4 }, () => writeLoop(() => pool.query('insert into drill (src) values ($1)', [`${label}-pg`]))),
  ...Array.from({ length: 2 }, () => writeLoop(() => sql`insert into drill (src) values (${`${label}-js`})`)),
];
while (!stopped()) await sleep(100);
await Promise.all(loops);

// After the failover: each idle client runs one statement; each held
// transaction tries to commit.
let idleRescued = 0;
for (const c of idle) {
  try { await c.query('select 1'); idleRescued++; } catch (e) { note(e); }
}
let heldOutcome = {};
for (const c of held) {
  let outcome;
  try { await c.query('commit'); outcome = 'committed'; } catch (e) {
    note(e); outcome = e.code || 'closed';
    try { await c.query('rollback'); } catch { /* connection gone */ }
  }
  heldOutcome[outcome] = (heldOutcome[outcome] || 0) + 1;
}
const promoted = fs.existsSync(process.env.PROMOTED_FILE)
  ? Number(fs.readFileSync(process.env.PROMOTED_FILE, 'utf8')) : null;
const firstGood = promoted ? goodAt.find((t) => t >= promoted) : undefined;
console.log(JSON.stringify({
  label, writes, errors,
  first_good_after_promotion_ms: promoted && firstGood !== undefined ? firstGood - promoted : null,
  idle_clients: idle.length, idle_rescued: idleRescued,
  held_transactions: heldOutcome, connections_lost: connectionsLost,
}));
await Promise.all([pool.end(), sql.end({ timeout: 1 }), ...idle.map((c) => c.end().catch(() => {})), ...held.map((c) => c.end().catch(() => {}))]);
process.exit(0);
