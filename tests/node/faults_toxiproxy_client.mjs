// The npm Toxiproxy client (toxiproxy-node-client) against `pgwarden faults`:
// every endpoint of the API, through the client where it has a call, and
// each change seen on the wire through an echo server (ECHO_PORT).
import assert from 'node:assert/strict';
import net from 'node:net';
import pkg from 'toxiproxy-node-client';

const { Toxiproxy } = pkg;
const url = process.env.TOXIPROXY_URL;
const echoPort = Number(process.env.ECHO_PORT);
const toxiproxy = new Toxiproxy(url);
const api = toxiproxy.getApi();

// Sends `text` through host:port and resolves with the time the echo took (ms).
function roundTrip(port, text = 'ping') {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true }, () => socket.write(text));
    let got = '';
    socket.on('data', (d) => {
      got += d;
      if (got.length >= text.length) {
        socket.destroy();
        resolve(Date.now() - started);
      }
    });
    socket.on('error', reject);
    setTimeout(() => { socket.destroy(); reject(new Error('no echo')); }, 5000);
  });
}

async function rejectsWith(promise, status) {
  await assert.rejects(promise, (e) => e.message.includes(`status code ${status}`));
}

const version = JSON.parse(await toxiproxy.getVersion());
assert.ok(version.version, 'GET /version');

const proxy = await toxiproxy.createProxy({
  name: 'echo', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echoPort}`,
});
assert.equal(proxy.enabled, true);
const port = Number(proxy.listen.split(':').pop());
assert.ok(port > 0);
await rejectsWith(toxiproxy.createProxy({ name: 'echo', listen: '127.0.0.1:0', upstream: 'x:1' }), 409);
assert.ok((await roundTrip(port)) < 200);

const all = await toxiproxy.getAll();
assert.deepEqual(Object.keys(all), ['echo']);
assert.equal((await toxiproxy.get('echo')).listen, proxy.listen);
await rejectsWith(toxiproxy.get('missing'), 404);

// Toxics: add, read, list, update (POST and PATCH), remove.
const toxic = await proxy.addToxic({
  name: 'slow', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 250 },
});
assert.deepEqual(toxic.attributes, { latency: 250, jitter: 0 });
assert.ok((await roundTrip(port)) >= 240, 'latency on the wire');
assert.equal((await proxy.getToxic('slow')).attributes.latency, 250);
const listed = (await api.get(`${url}/proxies/echo/toxics`)).data;
assert.deepEqual(listed.map((t) => t.name), ['slow']);
const updated = await toxic.update({ attributes: { latency: 10 } });
assert.equal(updated.attributes.latency, 10);
assert.ok((await roundTrip(port)) < 200, 'updated latency on the wire');
const patched = await fetch(`${url}/proxies/echo/toxics/slow`, {
  method: 'PATCH', body: JSON.stringify({ toxicity: 0.5 }),
});
assert.equal(patched.status, 200);
assert.equal((await patched.json()).toxicity, 0.5);
await toxic.remove();
await rejectsWith(proxy.getToxic('slow'), 404);
await rejectsWith(proxy.addToxic({ type: 'nonsense' }), 400);

// Disable and enable the proxy.
const down = await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
assert.equal(down.enabled, false);
await assert.rejects(roundTrip(port), (e) => e.code === 'ECONNREFUSED');
const patchedProxy = await fetch(`${url}/proxies/echo`, {
  method: 'PATCH', body: JSON.stringify({ enabled: true }),
});
assert.equal(patchedProxy.status, 200);
assert.ok((await roundTrip(port)) < 200);

// Populate: keeps echo as it is, creates more.
const populated = await toxiproxy.populate([
  { name: 'echo', listen: proxy.listen, upstream: proxy.upstream, enabled: true },
  { name: 'echo2', listen: '127.0.0.1:0', upstream: `127.0.0.1:${echoPort}`, enabled: true },
]);
assert.deepEqual(Object.keys(populated).sort(), ['echo', 'echo2']);
const port2 = Number(populated.echo2.listen.split(':').pop());
assert.ok((await roundTrip(port2)) < 200);

// Reset: every toxic removed, every proxy enabled.
await populated.echo2.addToxic({ type: 'timeout', attributes: { timeout: 0 } });
await populated.echo2.update({ enabled: false, listen: populated.echo2.listen, upstream: populated.echo2.upstream });
await toxiproxy.reset();
const after = await toxiproxy.get('echo2');
assert.equal(after.enabled, true);
assert.deepEqual((await api.get(`${url}/proxies/echo2/toxics`)).data, []);
assert.ok((await roundTrip(port2)) < 200);

// Delete.
await populated.echo2.remove();
await rejectsWith(toxiproxy.get('echo2'), 404);
await (await toxiproxy.get('echo')).remove();
assert.deepEqual(Object.keys(await toxiproxy.getAll()), []);
console.log('ok');
