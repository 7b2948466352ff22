// ioredis against a real redis-server that is killed: commands while it is
// gone, after the client gave up, and a client without an 'error' listener.
'use strict';
const Redis = require('ioredis');
const { sleep, log, deadline } = require('./common.cjs');

async function main() {
  deadline(30000);
  const port = Number(process.env.REDIS_PORT);
  const r = new Redis({
    host: '127.0.0.1',
    port,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => (times > 2 ? null : 50),
  });
  r.on('error', (e) => log('ioredis', e, { who: 'event' }));
  await r.set('k', 'v');
  process.kill(Number(process.env.REDIS_PID), 'SIGKILL');
  await sleep(200);
  try {
    await r.get('k');
  } catch (e) {
    log('ioredis', e, { who: 'during-retries' });
  }
  await sleep(600);
  try {
    await r.get('k');
  } catch (e) {
    log('ioredis', e, { who: 'after-end' });
  }
  // No 'error' listener: ioredis prints "[ioredis] Unhandled error event: ..." itself.
  const r2 = new Redis({ host: '127.0.0.1', port, retryStrategy: () => null });
  await sleep(500);
  r.disconnect();
  r2.disconnect();
  process.exit(0);
}
main().catch((e) => {
  log('ioredis', e, { who: 'main' });
  process.exit(1);
});
