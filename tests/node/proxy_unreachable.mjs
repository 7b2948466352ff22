// node-postgres and postgres.js through pgwarden to a database whose server
// does not answer: each login gets pgwarden's FATAL 57P03 (cannot connect
// now), the code drivers and apps back off on, naming the cause — never a
// bare close ("Connection terminated unexpectedly", CONNECTION_CLOSED), which
// postgres.js users answer with a tight reconnect loop.
import assert from 'node:assert/strict';
import pg from 'pg';
import postgres from 'postgres';

const gone = {
  host: '127.0.0.1', port: Number(process.env.PROXY_PORT),
  user: 'app', password: 'app-pw', database: 'gone',
};

for (let i = 0; i < 3; i++) {
  const client = new pg.Client(gone);
  await assert.rejects(client.connect(), (e) => {
    assert.equal(e.code, '57P03', `${e.code}: ${e.message}`);
    assert.equal(e.severity, 'FATAL');
    assert.match(e.message, /could not connect to server/);
    return true;
  });
}

const sql = postgres({ ...gone, pass: gone.password, max: 1, onnotice: () => {} });
for (let i = 0; i < 3; i++) {
  await assert.rejects(sql`select 1`, (e) => {
    assert.equal(e.code, '57P03', `${e.code}: ${e.message}`);
    assert.equal(e.severity, 'FATAL');
    return true;
  });
}
await sql.end();
console.log('ok');
