// A real Node client across a dropped connection: the npm `eventsource`
// package subscribes to hub_server's /events/tenant-42 through a TCP proxy
// that this test owns. While the test publishes numbered events (POST
// /publish/tenant-42, straight to hub_server), it cuts the proxied
// connection mid-stream; the client reconnects through the proxy with
// Last-Event-ID and must end with every published event exactly once, in
// order. Checked:
//   - without the auth cookie the stream is refused; with it (sent through
//     eventsource's `fetch` option) it opens;
//   - plain messages arrive on onmessage, `MENU_UPDATE_END` events (JSON
//     data) on addEventListener, and each event's lastEventId is the id the
//     hub answered to its POST;
//   - the first request carries no Last-Event-ID; the reconnect carries the
//     id of the last event received before the cut (sniffed by the proxy);
//   - after the reconnect the client holds exactly the published sequence:
//     no gap, no duplicate, no reordering, no gap event.
//
// Usage: node node_reconnect.mjs --hub-server PATH

import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import { EventSource } from 'eventsource';

import { Harness, parseOptions, waitFor } from './harness.mjs';

const options = parseOptions(process.argv.slice(2), { hubServer: process.env.HUB_SERVER || '' },
  'Usage: node node_reconnect.mjs --hub-server PATH   (or HUB_SERVER=PATH)');

const CHANNEL = 'tenant-42';
const COOKIE = 'session=tenant-42-secret';
const NAMED = 'MENU_UPDATE_END';
// Events the client must have before the cut, and after the reconnect
// before publishing stops.
const BEFORE_CUT = 12;
const AFTER_RECONNECT = 12;
const PUBLISH_EVERY_MS = 25;

// A TCP proxy that can drop every connection it carries, and remembers
// each connection's request head (to see the Last-Event-ID it sent).
class CuttableProxy {
  constructor(targetHost, targetPort) {
    this.target = { host: targetHost, port: targetPort };
    this.connections = [];
    this.server = net.createServer((client) => this.accept(client));
  }

  async listen() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this.server.address().port;
  }

  accept(client) {
    const entry = { head: '', headers: null, client, upstream: null, live: true };
    this.connections.push(entry);
    const upstream = net.connect(this.target);
    entry.upstream = upstream;
    client.on('data', (chunk) => {
      if (!entry.headers) {
        entry.head += chunk.toString('latin1');
        const end = entry.head.indexOf('\r\n\r\n');
        if (end >= 0) entry.headers = parseHead(entry.head.slice(0, end));
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    const finish = () => {
      entry.live = false;
      client.destroy();
      upstream.destroy();
    };
    client.on('close', finish);
    upstream.on('close', finish);
    client.on('error', () => {});
    upstream.on('error', () => {});
  }

  // Drops every live connection the way a network does: a reset to the
  // client, the upstream side just closed.
  cut() {
    let n = 0;
    for (const entry of this.connections) {
      if (!entry.live) continue;
      ++n;
      if (typeof entry.client.resetAndDestroy === 'function') entry.client.resetAndDestroy();
      else entry.client.destroy();
      entry.upstream.destroy();
    }
    return n;
  }

  async close() {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

function parseHead(head) {
  const [requestLine, ...lines] = head.split('\r\n');
  const headers = { requestLine };
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

// Event i (from 1): odd ones are plain messages, even ones MENU_UPDATE_END
// with a JSON body, as a menu service would send them.
function eventFor(i) {
  if (i % 2) return { type: 'message', data: `menu changed #${i}` };
  return { type: NAMED, data: JSON.stringify({ seq: i, tenant: CHANNEL, items: [{ id: i, price: 4.5 + i }] }) };
}

await new Harness('node_reconnect', { timeoutMs: 55000 }).run(async (t) => {
  const hub = await t.startExample('hub_server', options.hubServer,
    ['--host', '127.0.0.1', '--port', '0', '--auth-cookie', COOKIE, '--retry-ms', '1000']);
  const base = `http://127.0.0.1:${hub.port}`;
  const withCookie = (init = {}) => ({ ...init, headers: { ...(init.headers || {}), Cookie: COOKIE } });

  // The auth hook answers before anything is subscribed.
  const refused = await fetch(`${base}/events/${CHANNEL}`, { headers: { Accept: 'text/event-stream' } });
  t.check('a stream request without the auth cookie is refused (401/403)', refused.status === 401 || refused.status === 403,
    `status ${refused.status}`);
  await refused.body?.cancel();

  const proxy = new CuttableProxy('127.0.0.1', hub.port);
  const proxyPort = await proxy.listen();
  t.defer(() => proxy.close());
  t.log(`proxy 127.0.0.1:${proxyPort} -> ${base}`);

  const published = [];
  const received = [];
  const errors = [];
  let opens = 0;
  let lastIdAtError = null;
  const source = new EventSource(`http://127.0.0.1:${proxyPort}/events/${CHANNEL}`, {
    // eventsource sends no cookies of its own: a fetch that adds one is how
    // a Node client authenticates.
    fetch: (url, init) => fetch(url, withCookie(init)),
  });
  t.defer(() => source.close());
  let publishedAtReopen = 0;
  source.onopen = () => {
    if (++opens === 2) publishedAtReopen = published.length;
  };
  source.onerror = (e) => {
    errors.push(e.message || e.type);
    lastIdAtError = received.length ? received[received.length - 1].lastEventId : '';
  };
  source.onmessage = (e) => received.push({ type: 'message', data: e.data, lastEventId: e.lastEventId });
  source.addEventListener(NAMED, (e) => received.push({ type: NAMED, data: e.data, lastEventId: e.lastEventId }));
  const otherTypes = [];
  // The hub's in-band notice that history could not cover the outage.
  source.addEventListener('ssepp-gap', (e) => otherTypes.push({ type: 'ssepp-gap', data: e.data }));

  await waitFor('the first connection to open', 10000, () => opens >= 1);
  t.check('the stream opens through the proxy with the auth cookie', opens === 1);

  // The publisher: sequential POSTs, so the hub's order is the loop's order.
  let publishing = true;
  let publishError = null;
  const publisher = (async () => {
    for (let i = 1; publishing; ++i) {
      const { type, data } = eventFor(i);
      const query = type === NAMED ? `?event=${NAMED}` : '';
      const response = await fetch(`${base}/publish/${CHANNEL}${query}`, withCookie({ method: 'POST', body: data }));
      const id = (await response.text()).trim();
      if (response.status !== 200 || !id) throw new Error(`publish #${i} answered ${response.status} "${id}"`);
      published.push({ type, data, id });
      await sleep(PUBLISH_EVERY_MS);
    }
  })().catch((e) => {
    publishError = e;
  });

  await waitFor(`${BEFORE_CUT} events before the cut`, 10000, () => publishError || received.length >= BEFORE_CUT);
  if (publishError) throw publishError;
  const cut = proxy.cut();
  const receivedAtCut = received.length;
  const publishedAtCut = published.length;
  t.log(`cut ${cut} connection(s) after ${receivedAtCut} events received, ${published.length} published`);
  t.check('the proxy dropped the live stream mid-stream', cut === 1, `${cut} connections cut`);

  await waitFor('the client to reconnect', 20000, () => publishError || (opens >= 2 && proxy.connections.length >= 2));
  if (publishError) throw publishError;
  const resumedAt = received.length;
  t.log(`reconnected (${errors.length} error event(s): ${errors.join('; ')}); publishing goes on`);
  await waitFor(`${AFTER_RECONNECT} more events after the reconnect`, 10000,
    () => publishError || received.length >= resumedAt + AFTER_RECONNECT);
  publishing = false;
  await publisher;
  if (publishError) throw publishError;
  t.log(`published ${published.length} events`);
  // Wait for the tail, then a little longer: a late duplicate must show.
  await waitFor('every published event to arrive', 5000, () => received.length >= published.length).catch(() => {});
  await sleep(300);

  const first = proxy.connections[0].headers || {};
  const second = proxy.connections[1].headers || {};
  t.check('the first request carries no Last-Event-ID', !('last-event-id' in first), JSON.stringify(first));
  t.check('the reconnect carries Last-Event-ID = the last id received before the cut',
    second['last-event-id'] !== undefined && second['last-event-id'] === lastIdAtError && lastIdAtError !== '',
    `sent ${JSON.stringify(second['last-event-id'])}, last received before the cut ${JSON.stringify(lastIdAtError)}`);
  t.check('the client reconnected exactly once', proxy.connections.length === 2 && opens === 2,
    `${proxy.connections.length} proxied connections, ${opens} opens`);
  t.check('events were published while the client was away (the replay had work to do)',
    publishedAtReopen > publishedAtCut, `${publishedAtCut} published at the cut, ${publishedAtReopen} at the reconnect`);

  const ids = published.map((p) => p.id);
  t.check('the hub assigned distinct ids', new Set(ids).size === ids.length, ids.join(' '));
  const got = received.map((r) => r.lastEventId);
  const dupes = got.filter((id, i) => got.indexOf(id) !== i);
  t.check('no event arrived twice', dupes.length === 0, `duplicated ids: ${dupes.slice(0, 20).join(' ')}`);
  const missing = ids.filter((id) => !got.includes(id));
  t.check('no published event is missing', missing.length === 0, `${missing.length} missing ids: ${missing.slice(0, 20).join(' ')}`);
  let mismatch = -1;
  for (let i = 0; i < Math.max(published.length, received.length) && mismatch < 0; ++i) {
    const p = published[i];
    const r = received[i];
    if (!p || !r || p.id !== r.lastEventId || p.type !== r.type || p.data !== r.data) mismatch = i;
  }
  t.check('the client holds every published event exactly once, in order (ids, types, data)', mismatch < 0,
    mismatch < 0 ? '' : `first difference at #${mismatch + 1}: published ${JSON.stringify(published[mismatch])}, ` +
      `received ${JSON.stringify(received[mismatch])}`);
  const named = received.filter((r) => r.type === NAMED);
  const jsonOk = named.every((r) => {
    try {
      const v = JSON.parse(r.data);
      return v.tenant === CHANNEL && Number.isInteger(v.seq) && v.seq % 2 === 0;
    } catch {
      return false;
    }
  });
  t.check(`${NAMED} events arrive through addEventListener with their JSON data`, named.length > 0 && jsonOk,
    `${named.length} named events`);
  t.check('no ssepp-gap event was sent (the history covered the outage)', otherTypes.length === 0,
    JSON.stringify(otherTypes));
  t.log(`client: ${received.length} events, ${received.length - named.length} messages + ${named.length} ${NAMED}; ` +
    `cut after ${receivedAtCut}, ${publishedAtReopen - publishedAtCut} published while away, resumed with Last-Event-ID ${JSON.stringify(second['last-event-id'])}`);
});
