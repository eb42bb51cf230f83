// sse-cat's URL mode (ssepp's EventSource client) against ssepp's
// hub_server, through a TCP proxy that this test owns. The test publishes
// named, multi-line and non-ASCII events (POST /publish/news, straight to
// hub_server); meanwhile the proxy goes down like a restarting server (the
// stream ends, then connections are refused for a while, then it listens on
// the same port again) and later resets the connection. hub_server itself
// keeps running: its history is what a resuming client replays from (a
// restarted hub_server would have a new id epoch and no history). Checked:
//   - sse-cat prints every published event exactly once and in order, each
//     line exactly JSON.stringify({type, data, lastEventId}) with the id the
//     hub answered to the POST;
//   - its first request carries no Last-Event-ID; each reconnection carries
//     the id of the last event printed before the drop;
//   - stderr says why and when it reconnects (stream end, refused
//     connection, reset), and SIGTERM ends it with exit 0;
//   - --last-event-id resumes a new client after that id (the hub replays
//     the rest), and --retry / --comments print the hub's retry field and
//     heartbeats.
//
// Usage: node client_hub.mjs --sse-cat PATH --hub-server PATH

import { setTimeout as sleep } from 'node:timers/promises';

import { CuttableProxy, SseCat, eventLine } from './client_support.mjs';
import { Harness, parseOptions } from './harness.mjs';

const options = parseOptions(process.argv.slice(2), {
  sseCat: process.env.SSE_CAT || '',
  hubServer: process.env.HUB_SERVER || '',
}, 'Usage: node client_hub.mjs --sse-cat PATH --hub-server PATH');

const CHANNEL = 'news';
const RETRY_MS = 300;
const PER_PHASE = 8;

// Event i (from 1): a mix of what the hub must carry unchanged.
function eventFor(i) {
  switch (i % 4) {
    case 0: return { type: 'message', data: `plain #${i}` };
    case 1: return { type: 'headline', data: `line one of #${i}\nline two\n\nafter an empty line` };
    case 2: return { type: 'message', data: `zażółć gęślą jaźń 😀 #${i}` };
    default: return { type: 'price', data: JSON.stringify({ seq: i, quote: '"q"', path: 'a\\b' }) };
  }
}

await new Harness('client_hub', { timeoutMs: 55000 }).run(async (t) => {
  const hub = await t.startExample('hub_server', options.hubServer,
    ['--host', '127.0.0.1', '--port', '0', '--retry-ms', String(RETRY_MS), '--heartbeat-ms', '200']);
  const base = `http://127.0.0.1:${hub.port}`;

  const published = [];  // { type, data, id }
  async function publish(count) {
    for (let n = 0; n < count; ++n) {
      const e = eventFor(published.length + 1);
      const query = e.type === 'message' ? '' : `?event=${encodeURIComponent(e.type)}`;
      const response = await fetch(`${base}/publish/${CHANNEL}${query}`, { method: 'POST', body: e.data });
      const id = (await response.text()).trim();
      if (response.status !== 200) throw new Error(`publish answered ${response.status}: ${id}`);
      published.push({ ...e, id });
    }
  }
  const expectedLines = (events) => events.map((e) => eventLine(e.type, e.data, e.id));

  const proxy = new CuttableProxy(hub.port);
  const proxyPort = await proxy.up();
  t.defer(() => proxy.close());
  t.log(`proxy 127.0.0.1:${proxyPort} -> ${base}`);

  const cat = new SseCat(t, options.sseCat, [`http://127.0.0.1:${proxyPort}/events/${CHANNEL}`]);
  await cat.waitForStderr(/^sse-cat: connected to http:\/\/127\.0\.0\.1:\d+\/events\/news$/);

  // Phase 1: a live stream.
  await publish(PER_PHASE);
  await cat.waitForLines(PER_PHASE);
  t.check(`the first ${PER_PHASE} events arrive, each line JSON.stringify({type, data, lastEventId})`,
    JSON.stringify(cat.lines()) === JSON.stringify(expectedLines(published)),
    `expected:\n${expectedLines(published).join('\n')}\ngot:\n${cat.lines().join('\n')}`);
  const firstRequest = proxy.requests[0]?.headers || {};
  t.check('the first request is GET with Accept: text/event-stream and no Last-Event-ID',
    /^GET \/events\/news HTTP\/1\.1$/.test(firstRequest.requestLine) &&
    firstRequest.accept === 'text/event-stream' && !('last-event-id' in firstRequest),
    JSON.stringify(firstRequest));

  // Phase 2: the server goes away (the stream ends, then connections are
  // refused) while events keep being published; it comes back on the same
  // port.
  const lastBeforeDown = published[published.length - 1].id;
  const requestsBeforeDown = proxy.requests.length;
  await proxy.down();
  await cat.waitForStderr(/^sse-cat: reconnecting in \d+ ms: the server closed the event stream: /);
  await publish(PER_PHASE);
  await cat.waitForStderr(/^sse-cat: reconnecting in \d+ ms: Connection refused: connecting to /);
  await sleep(200);
  await proxy.up();
  t.log(`proxy listening again on ${proxy.port}`);
  await cat.waitForLines(2 * PER_PHASE);
  const resumed = proxy.requests[requestsBeforeDown]?.headers || {};
  t.check('the reconnection after the restart sends Last-Event-ID: the last id printed before it',
    resumed['last-event-id'] === lastBeforeDown, `sent ${JSON.stringify(resumed['last-event-id'])}, expected ${lastBeforeDown}`);
  await publish(PER_PHASE);
  await cat.waitForLines(3 * PER_PHASE);

  // Phase 3: a connection reset mid-stream.
  const lastBeforeReset = published[published.length - 1].id;
  const requestsBeforeReset = proxy.requests.length;
  t.check('the reset drops one live connection', proxy.cut({ reset: true }) === 1);
  await cat.waitForStderr(/^sse-cat: reconnecting in \d+ ms: Connection reset by peer: /);
  await publish(PER_PHASE);
  await cat.waitForLines(4 * PER_PHASE);
  const afterReset = proxy.requests[requestsBeforeReset]?.headers || {};
  t.check('the reconnection after the reset sends Last-Event-ID: the last id printed before it',
    afterReset['last-event-id'] === lastBeforeReset,
    `sent ${JSON.stringify(afterReset['last-event-id'])}, expected ${lastBeforeReset}`);

  await sleep(300);  // room for a duplicate to show up
  t.check(`all ${published.length} events printed exactly once, in order, across the restart and the reset`,
    JSON.stringify(cat.lines()) === JSON.stringify(expectedLines(published)),
    `expected:\n${expectedLines(published).join('\n')}\ngot:\n${cat.lines().join('\n')}`);
  t.check('a connected message for each of the three connections',
    cat.stderrLines().filter((l) => l.startsWith('sse-cat: connected to ')).length === 3, cat.stderrLines().join('\n'));

  const exit = await cat.stop('SIGTERM');
  t.check('SIGTERM: sse-cat exits with status 0', exit.code === 0, JSON.stringify(exit));
  t.check('its output ends with a complete line', cat.stdout().endsWith('\n'));

  // --last-event-id: a new client resumes after an id of the hub's history.
  const from = 2 * PER_PHASE + 3;
  const resume = new SseCat(t, options.sseCat,
    ['--retry', '--comments', '--last-event-id', published[from - 1].id, '--no-reconnect', `${base}/events/${CHANNEL}`],
    'sse-cat-resume');
  const rest = published.slice(from);
  await resume.waitForStderr(/^sse-cat: connected to /);
  // The retry field, the replayed events, then heartbeats (200 ms idle).
  const lines = await resume.waitForLines(1 + rest.length + 1);
  t.check('--retry prints the hub\'s retry field first', lines[0] === JSON.stringify({ retry: RETRY_MS }), lines[0]);
  t.check(`--last-event-id ${published[from - 1].id}: the hub replays the ${rest.length} events after it`,
    JSON.stringify(lines.slice(1, 1 + rest.length)) === JSON.stringify(expectedLines(rest)),
    lines.slice(1, 1 + rest.length).join('\n'));
  t.check('--comments prints the heartbeats of the idle stream',
    lines.slice(1 + rest.length).every((l) => typeof JSON.parse(l).comment === 'string'),
    lines.slice(1 + rest.length).join('\n'));
  const resumeExit = await resume.stop('SIGINT');
  t.check('SIGINT: sse-cat exits with status 0', resumeExit.code === 0, JSON.stringify(resumeExit));
});
