// sse-cat's URL mode (ssepp's EventSource client) against better-sse, a
// popular Node SSE server library: two sse-cat clients register with a
// better-sse channel, which broadcasts named events with ids. Checked:
//   - both clients print every broadcast, each line exactly
//     JSON.stringify({type, data, lastEventId}) (better-sse sends data as
//     JSON text, ids as given);
//   - --retry prints the session's initial retry field, --comments its
//     keep-alive comments, and neither adds or changes an event line;
//   - when the server drops the connections, both clients reconnect after
//     the retry time and better-sse's new sessions see their Last-Event-ID
//     (session.lastId) as the last id each client printed; broadcasts after
//     that reach both again;
//   - SIGTERM ends each with exit 0.
//
// Usage: node client_better_sse.mjs --sse-cat PATH

import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import { createChannel, createSession } from 'better-sse';

import { SseCat, eventLine } from './client_support.mjs';
import { Harness, parseOptions, waitFor } from './harness.mjs';

const options = parseOptions(process.argv.slice(2), { sseCat: process.env.SSE_CAT || '' },
  'Usage: node client_better_sse.mjs --sse-cat PATH');

const RETRY_MS = 200;
const KEEP_ALIVE_MS = 150;

// Broadcast n (from 1): every third an unnamed message with a string,
// the others a named "tick" with an object; better-sse JSON-encodes both.
function broadcastFor(n) {
  if (n % 3 === 0) return { type: 'message', data: `plain #${n} ünïcödé`, id: `m-${n}` };
  return { type: 'tick', data: { n, price: 4.25 * n, note: 'quote " and\nnewline' }, id: `tick-${n}` };
}

await new Harness('client_better_sse', { timeoutMs: 55000 }).run(async (t) => {
  const channel = createChannel();
  const sessions = [];  // { lastId, res } of every session, in order
  const server = http.createServer(async (req, res) => {
    if (req.url !== '/sse') {
      res.writeHead(404);
      res.end();
      return;
    }
    const session = await createSession(req, res, { retry: RETRY_MS, keepAlive: KEEP_ALIVE_MS });
    sessions.push({ lastId: session.lastId, res });
    channel.register(session);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.defer(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  const url = `http://127.0.0.1:${server.address().port}/sse`;

  const sent = [];
  const broadcast = (count) => {
    for (let i = 0; i < count; ++i) {
      const b = broadcastFor(sent.length + 1);
      channel.broadcast(b.data, b.type, { eventId: b.id });
      sent.push(b);
    }
  };
  const expected = () => sent.map((b) => eventLine(b.type, JSON.stringify(b.data), b.id));
  const eventsOf = (lines) => lines.filter((l) => 'type' in JSON.parse(l));

  const plain = new SseCat(t, options.sseCat, [url], 'sse-cat-plain');
  const verbose = new SseCat(t, options.sseCat, ['--retry', '--comments', url], 'sse-cat-verbose');
  await waitFor('both clients to register with the channel', 10000, () => channel.sessionCount === 2);

  broadcast(6);
  await plain.waitForLines(6);
  await waitFor('the verbose client to print the 6 events', 10000, () => eventsOf(verbose.lines()).length >= 6);
  t.check('a channel broadcast of named and unnamed events arrives exactly (JSON data, ids as given)',
    JSON.stringify(plain.lines()) === JSON.stringify(expected()),
    `expected:\n${expected().join('\n')}\ngot:\n${plain.lines().join('\n')}`);
  t.check('the second client on the channel prints the same events',
    JSON.stringify(eventsOf(verbose.lines())) === JSON.stringify(expected()), verbose.stdout());

  await sleep(3 * KEEP_ALIVE_MS);
  const verboseLines = verbose.lines();
  t.check('--retry prints the session\'s retry field first', verboseLines[0] === JSON.stringify({ retry: RETRY_MS }),
    verboseLines[0]);
  t.check('--comments prints better-sse\'s keep-alive comments',
    verboseLines.filter((l) => l === JSON.stringify({ comment: '' })).length >= 2, verbose.stdout());
  t.check('the plain client printed no retry field and no comment',
    plain.lines().length === sent.length, plain.stdout());

  // The server drops both connections; the clients come back with their
  // last ids.
  const lastId = sent[sent.length - 1].id;
  for (const { res } of sessions) res.socket?.destroy();
  await waitFor('both clients to register again', 10000, () => sessions.length === 4 && channel.sessionCount === 2);
  t.check(`both new sessions see Last-Event-ID ${lastId} (better-sse's session.lastId)`,
    sessions.slice(2).every((s) => s.lastId === lastId), JSON.stringify(sessions.map((s) => s.lastId)));
  for (const cat of [plain, verbose]) {
    t.check(`${cat.label} said why it reconnects`,
      cat.stderrLines().some((l) => /^sse-cat: reconnecting in \d+ ms: the server closed the event stream: /.test(l)),
      cat.stderrLines().join('\n'));
  }

  broadcast(3);
  await plain.waitForLines(9);
  await waitFor('the verbose client to print 9 events', 10000, () => eventsOf(verbose.lines()).length >= 9);
  t.check('after the reconnect both clients have every broadcast once, in order',
    JSON.stringify(plain.lines()) === JSON.stringify(expected()) &&
    JSON.stringify(eventsOf(verbose.lines())) === JSON.stringify(expected()),
    `plain:\n${plain.stdout()}verbose:\n${verbose.stdout()}`);

  for (const cat of [plain, verbose]) {
    const exit = await cat.stop('SIGTERM');
    t.check(`${cat.label}: SIGTERM ends it with status 0`, exit.code === 0, JSON.stringify(exit));
  }
});
