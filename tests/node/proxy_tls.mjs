// `pg` and `postgres` over TLS to pgwarden (client_tls_sslmode = require),
// verifying pgwarden's certificate against the test CA (CA_FILE), and the
// plaintext refusal each driver reports. Exits non-zero on the first surprise.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import pg from 'pg';
import postgres from 'postgres';

const port = Number(process.env.PROXY_PORT);
const ca = fs.readFileSync(process.env.CA_FILE);
const login = { host: '127.0.0.1', port, user: 'app', password: 'app-pw', database: 'app' };

// node-postgres: ssl with the CA (the certificate names IP 127.0.0.1).
const client = new pg.Client({ ...login, ssl: { ca, rejectUnauthorized: true } });
await client.connect();
assert.equal(client.connection.stream.encrypted, true);
assert.equal((await client.query('select $1::int + 1 as v', [41])).rows[0].v, 42);
await client.end();

// node-postgres with a CA it does not trust: refused by the driver itself.
const other = fs.readFileSync(process.env.OTHER_CA_FILE);
await assert.rejects(new pg.Client({ ...login, ssl: { ca: other } }).connect(),
  (e) => /self[- ]signed|unable to verify|certificate/i.test(e.message));

// node-postgres in plaintext: pgwarden's FATAL, with its SQLSTATE.
await assert.rejects(new pg.Client({ ...login, ssl: false }).connect(),
  (e) => e.code === '28000' && /accepts only TLS connections/.test(e.message));

// postgres.js: verify against the CA; prepared statements over TLS.
const sql = postgres({ ...login, username: 'app', ssl: { ca }, max: 4 });
const rows = await Promise.all(Array.from({ length: 20 }, (_, i) => sql`select ${i}::int + 1 as v`));
rows.forEach((r, i) => assert.equal(r[0].v, i + 1));
await sql.end();

// postgres.js with ssl: 'require' (encrypt, no verification).
const loose = postgres({ ...login, username: 'app', ssl: 'require', max: 1 });
assert.equal((await loose`select 'tls' as t`)[0].t, 'tls');
await loose.end();

// postgres.js in plaintext: refused with pgwarden's FATAL.
const plain = postgres({ ...login, username: 'app', ssl: false, max: 1 });
await assert.rejects(plain`select 1`, (e) => e.code === '28000');
await plain.end();

console.log('ok');
