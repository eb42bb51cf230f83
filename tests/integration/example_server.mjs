// One HTTP interface, three example servers (hub_server, beast_server,
// httplib_server): this test starts the one named by --server on a free
// port and checks, against the real program, what every one of them
// promises (GET /events/{channel}, POST /publish/{channel}?event=&id=,
// --heartbeat-ms, --history, --queue-events, SIGTERM). Checked:
//   - its first stdout line is "NAME: listening on http://HOST:PORT/";
//   - with --hello, GET /hello answers 200;
//   - the stream's head: 200, Content-Type text/event-stream, no
//     Content-Length, and no compression even when the request sends
//     Accept-Encoding: gzip, br (Content-Encoding absent or identity);
//   - replay: after 5 events, a raw HTTP client with Last-Event-ID: <2nd>
//     and one with ?lastEventId=<2nd> get exactly events 3..5, then the live
//     ones, no gap event, no duplicate; an unknown id gets ssepp-gap first;
//     ?event= sets the type, ?id= the id (answered as the POST's body);
//   - the npm eventsource client, through a TCP proxy that resets the
//     connection mid-stream, reconnects with Last-Event-ID and ends with
//     every published event exactly once, in order;
//   - Chromium's EventSource, on a page of the server's own origin, gets
//     events published after it opened, and one opened with ?lastEventId=
//     resumes after that id with no gap;
//   - a client reset mid-event does not disturb another subscriber of the
//     channel, and the server keeps serving new streams;
//   - slow consumer: a client that stops reading while 400 events of 64 KiB
//     are published is disconnected or misses events (its queue is bounded
//     by --queue-events), a reading subscriber gets every one, and the
//     server's VmRSS grows by less than 200 MB;
//   - heartbeats: with --heartbeat-ms 200 an idle stream gets a comment line
//     later than its head, within 2 s;
//   - SIGTERM: every open stream ends cleanly (the client reads the end)
//     and the server exits with status 0 within 5 s.
//
// Usage: node example_server.mjs --server PATH --name NAME [--hello] [--chromium PATH]

import { readFileSync } from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import { EventSource } from 'eventsource';
import { chromium } from 'playwright-core';

import { CuttableProxy } from './client_support.mjs';
import { Harness, parseOptions, waitFor, withTimeout } from './harness.mjs';

const USAGE = 'Usage: node example_server.mjs --server PATH --name NAME [--hello] [--chromium PATH]';
const options = parseOptions(process.argv.slice(2), {
  server: process.env.EXAMPLE_SERVER || '',
  name: process.env.EXAMPLE_NAME || '',
  hello: false,
  chromium: process.env.CHROMIUM || '/usr/bin/chromium',
}, USAGE);

const HEARTBEAT_MS = 200;
// Per-subscriber queue bound. With 64 KiB events the hub's byte bound
// (1 MiB: 16 events) is what cuts the paused client off. Not smaller: the
// hub's 10 ms write coalescing counts events waiting for the window
// against this bound, so a bound of a few events disconnects even a reader
// that keeps up (issue 10, item 1, fixes that in the hub).
const QUEUE_EVENTS = 64;
const HISTORY = 1000;
const SLOW_EVENTS = 400;
const SLOW_EVENT_BYTES = 64 * 1024;
const RSS_BOUND_MB = 200;
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// An event stream read by hand (node:http, no EventSource): the head as
// answered, and the events and comments parsed as they come (WHATWG
// "interpret an event stream", without the reconnection).
class RawStream {
  constructor(url, headers = {}) {
    this.events = [];  // { type, data, id }
    this.comments = [];  // { text, at }
    this.end = null;  // 'end' (clean), or how it broke
    this.received = 0;  // body bytes
    this.buffer = '';
    this.decoder = new TextDecoder();
    this.pending = { type: '', data: [], id: null };
    this.lastId = '';
    this.request = http.get(url, { agent: false, headers: { Accept: 'text/event-stream', ...headers } });
    this.head = new Promise((resolve, reject) => {
      this.request.once('response', (response) => {
        this.response = response;
        this.headAt = Date.now();
        response.on('data', (chunk) => this.feed(chunk));
        response.once('end', () => this.finish('end'));
        response.once('aborted', () => this.finish('aborted'));
        response.once('error', (e) => this.finish(`error: ${e.message}`));
        resolve({ status: response.statusCode, headers: response.headers });
      });
      this.request.once('error', (e) => {
        this.finish(`error: ${e.message}`);
        reject(e);
      });
    });
    this.head.catch(() => {});
    this.ended = new Promise((resolve) => {
      this.resolveEnded = resolve;
    });
  }

  finish(how) {
    if (this.end) return;
    this.end = how;
    this.resolveEnded(how);
  }

  feed(chunk) {
    this.received += chunk.length;
    this.buffer += this.decoder.decode(chunk, { stream: true });
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      // A CR at the end may be the first half of a CRLF.
      if (!m || (m[0] === '\r' && m.index === this.buffer.length - 1)) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      this.line(line);
    }
  }

  line(line) {
    if (line === '') {
      const p = this.pending;
      if (p.id !== null) this.lastId = p.id;
      if (p.data.length) this.events.push({ type: p.type || 'message', data: p.data.join('\n'), id: this.lastId });
      this.pending = { type: '', data: [], id: null };
      return;
    }
    if (line.startsWith(':')) {
      this.comments.push({ text: line.slice(1), at: Date.now() });
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.pending.type = value;
    else if (field === 'data') this.pending.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.pending.id = value;
  }

  // Resolves with the events once there are `n`; throws when the stream
  // ends before, or after timeoutMs.
  async waitForEvents(n, timeoutMs = 10000, what = 'a raw stream') {
    return waitFor(`${what} to get ${n} events (has ${this.events.length})`, timeoutMs, () => {
      if (this.events.length >= n) return this.events;
      if (this.end) throw new Error(`${what} ended (${this.end}) after ${this.events.length} of ${n} events`);
      return null;
    });
  }

  pause() {
    this.response.pause();
    this.response.socket.pause();
  }

  resume() {
    this.response.socket.resume();
    this.response.resume();
  }

  // A client gone without a goodbye: an RST, whatever is in flight.
  reset() {
    const socket = this.request.socket;
    if (socket && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else this.request.destroy();
  }

  close() {
    this.request.destroy();
  }
}

// `got` and `want` as lists of { type, data, id }: '' when equal, else
// where they first differ.
function difference(got, want) {
  const brief = (e) => (e ? JSON.stringify({ ...e, data: e.data.length > 60 ? `${e.data.slice(0, 40)}… (${e.data.length} chars)` : e.data }) : 'nothing');
  for (let i = 0; i < Math.max(got.length, want.length); ++i) {
    const g = got[i];
    const w = want[i];
    if (!g || !w || g.type !== w.type || g.data !== w.data || g.id !== w.id) {
      return `${got.length} events, expected ${want.length}; first difference at #${i + 1}: got ${brief(g)}, expected ${brief(w)}`;
    }
  }
  return '';
}

function rssMegabytes(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

await new Harness(`example_server ${options.name}`, { timeoutMs: 55000 }).run(async (t) => {
  const server = await t.startExample(options.name, options.server, [
    '--host', '127.0.0.1', '--port', '0', '--heartbeat-ms', String(HEARTBEAT_MS),
    '--history', String(HISTORY), '--queue-events', String(QUEUE_EVENTS),
  ]);
  const base = `http://127.0.0.1:${server.port}`;
  const firstLine = server.output().split('\n').find((l) => l.startsWith(`[${options.name} out]`)) || '';
  t.check(`the first stdout line is "${options.name}: listening on http://HOST:PORT/"`,
    firstLine === `[${options.name} out] ${options.name}: listening on ${base}/`, firstLine);

  const published = new Map();  // channel -> [{ type, data, id }]
  async function publish(channel, data, { type = '', id = '' } = {}) {
    const query = new URLSearchParams();
    if (type) query.set('event', type);
    if (id) query.set('id', id);
    const q = String(query);
    const response = await fetch(`${base}/publish/${channel}${q ? `?${q}` : ''}`, { method: 'POST', body: data });
    const answer = (await response.text()).trim();
    if (response.status !== 200 || !answer) throw new Error(`POST /publish/${channel}?${q} answered ${response.status} "${answer}"`);
    const event = { type: type || 'message', data, id: answer };
    if (!published.has(channel)) published.set(channel, []);
    published.get(channel).push(event);
    return event;
  }
  const stream = (channel, headers, query = '') => {
    const s = new RawStream(`${base}/events/${channel}${query}`, headers);
    t.defer(() => s.close());
    return s;
  };

  // --- /hello ---------------------------------------------------------------
  if (options.hello) {
    const hello = await fetch(`${base}/hello`);
    await hello.text();
    t.check('GET /hello answers 200', hello.status === 200, `status ${hello.status}`);
  }

  // --- the stream's head ----------------------------------------------------
  {
    const s = stream('head', { 'Accept-Encoding': 'gzip, br' });
    const { status, headers } = await withTimeout(s.head, 5000, 'the head of GET /events/head');
    t.check('GET /events/{channel} answers 200', status === 200, `status ${status}`);
    t.check('Content-Type starts with text/event-stream', /^text\/event-stream/.test(headers['content-type'] || ''),
      `Content-Type: ${headers['content-type']}`);
    t.check('no Content-Length', !('content-length' in headers), JSON.stringify(headers));
    const coding = (headers['content-encoding'] || 'identity').trim().toLowerCase();
    t.check('not compressed although the request accepts gzip and br (Content-Encoding absent or identity)',
      coding === 'identity', `Content-Encoding: ${headers['content-encoding']}`);
    // An event through it proves the body is the plain stream.
    const e = await publish('head', 'plain as can be');
    await s.waitForEvents(1, 5000).catch(() => {});
    t.check('an event arrives on it, readable as is', !difference(s.events, [e]), difference(s.events, [e]));
    s.close();
  }

  // --- replay by Last-Event-ID and ?lastEventId= -----------------------------
  {
    const CH = 'replay';
    for (let i = 1; i <= 5; ++i) await publish(CH, `replay #${i}`, { type: i % 2 ? '' : 'even' });
    const five = published.get(CH);
    const second = five[1].id;
    const byHeader = stream(CH, { 'Last-Event-ID': second });
    const byQuery = stream(CH, {}, `?lastEventId=${encodeURIComponent(second)}`);
    const unknown = stream(CH, { 'Last-Event-ID': 'no-such-id-ever' });
    await Promise.all([byHeader.head, byQuery.head, unknown.head]);
    await byHeader.waitForEvents(3, 5000, 'the Last-Event-ID stream').catch(() => {});
    await byQuery.waitForEvents(3, 5000, 'the ?lastEventId= stream').catch(() => {});
    for (let i = 6; i <= 7; ++i) await publish(CH, `replay #${i}`);
    const want = published.get(CH).slice(2);
    await byHeader.waitForEvents(want.length, 5000, 'the Last-Event-ID stream').catch(() => {});
    await byQuery.waitForEvents(want.length, 5000, 'the ?lastEventId= stream').catch(() => {});
    await unknown.waitForEvents(1, 5000, 'the unknown-id stream').catch(() => {});
    await sleep(300);  // room for a duplicate to show
    t.check(`Last-Event-ID: <2nd id> replays exactly events 3..5, then the live 6 and 7 (no gap event, no duplicate)`,
      !difference(byHeader.events, want), difference(byHeader.events, want));
    t.check(`?lastEventId=<2nd id> replays exactly events 3..5, then the live 6 and 7 (no gap event, no duplicate)`,
      !difference(byQuery.events, want), difference(byQuery.events, want));
    t.check('an unknown Last-Event-ID gets an ssepp-gap event first', unknown.events[0]?.type === 'ssepp-gap',
      JSON.stringify(unknown.events.slice(0, 3)));
    for (const s of [byHeader, byQuery, unknown]) s.close();

    const live = stream('explicit');
    await live.head;
    const answer = await publish('explicit', 'with my own id', { type: 'custom', id: 'order-17' });
    await live.waitForEvents(1, 5000).catch(() => {});
    t.check('POST ?event=custom&id=order-17 answers order-17, and the stream carries that type and id',
      answer.id === 'order-17' && !difference(live.events, [{ type: 'custom', data: 'with my own id', id: 'order-17' }]),
      `answered ${answer.id}; ${JSON.stringify(live.events)}`);
    live.close();
  }

  // --- heartbeats -----------------------------------------------------------
  {
    const idle = stream('idle');
    await idle.head;
    const heartbeat = await waitFor('a comment line on the idle stream', 2000,
      () => idle.comments.find((c) => c.at - idle.headAt >= HEARTBEAT_MS / 2)).catch(() => null);
    t.check(`--heartbeat-ms ${HEARTBEAT_MS}: an idle stream gets a comment line within 2 s`, heartbeat !== null,
      `comments: ${JSON.stringify(idle.comments.map((c) => ({ ...c, at: c.at - idle.headAt })))}; events: ${idle.events.length}`);
    if (heartbeat) t.log(`first heartbeat ${heartbeat.at - idle.headAt} ms after the head: ":${heartbeat.text}"`);
    idle.close();
  }

  // --- a client reset mid-stream --------------------------------------------
  {
    const CH = 'reset';
    const victim = stream(CH);
    const bystander = stream(CH);
    await Promise.all([victim.head, bystander.head]);
    for (let i = 1; i <= 3; ++i) await publish(CH, `before #${i}`);
    await victim.waitForEvents(3, 5000, 'the client to be reset');
    // Reset it in the middle of a big event: part of it read, the rest in
    // flight or queued.
    const bytesBefore = victim.received;
    const big = publish(CH, 'B'.repeat(512 * 1024));
    big.catch(() => {});  // awaited below
    await waitFor('the first bytes of the big event', 5000, () => victim.received > bytesBefore, 1);
    victim.reset();
    await big;
    for (let i = 1; i <= 3; ++i) await publish(CH, `after #${i}`);
    const want = published.get(CH);
    await bystander.waitForEvents(want.length, 10000, 'the other subscriber').catch(() => {});
    t.check('a client reset mid-event: the other subscriber gets every event, the big one whole',
      !difference(bystander.events, want), difference(bystander.events, want));
    const newcomer = stream(CH);
    await newcomer.head;
    const e = await publish(CH, 'still serving');
    await newcomer.waitForEvents(1, 5000, 'a new subscriber').catch(() => {});
    t.check('the server still serves: a new stream gets a new event', !difference(newcomer.events, [e]),
      difference(newcomer.events, [e]));
    for (const s of [bystander, newcomer]) s.close();
  }

  // --- the npm eventsource client across a reset ----------------------------
  {
    const CH = 'resume';
    const proxy = new CuttableProxy(server.port);
    const proxyPort = await proxy.up();
    t.defer(() => proxy.close());
    const received = [];
    let opens = 0;
    const source = new EventSource(`http://127.0.0.1:${proxyPort}/events/${CH}`);
    t.defer(() => source.close());
    source.onopen = () => ++opens;
    source.onmessage = (e) => received.push({ type: 'message', data: e.data, id: e.lastEventId });
    for (const type of ['tick', 'ssepp-gap']) {
      source.addEventListener(type, (e) => received.push({ type, data: e.data, id: e.lastEventId }));
    }
    await waitFor('eventsource to open', 10000, () => opens >= 1);
    const round = async (from, n) => {
      for (let i = from; i < from + n; ++i) await publish(CH, `resume #${i}`, { type: i % 3 ? '' : 'tick' });
    };
    await round(1, 5);
    await waitFor('eventsource to get 5 events', 5000, () => received.length >= 5).catch(() => {});
    const lastBeforeCut = received[received.length - 1]?.id;
    const cut = proxy.cut({ reset: true });
    await round(6, 5);  // while it is away
    await waitFor('eventsource to reconnect', 15000, () => opens >= 2).catch(() => {});
    await round(11, 5);
    const want = published.get(CH);
    await waitFor(`eventsource to get all ${want.length} events`, 5000, () => received.length >= want.length).catch(() => {});
    await sleep(300);
    source.close();
    const reconnect = proxy.requests[1]?.headers || {};
    t.check('eventsource: the reset dropped its one stream, and it reconnected once with Last-Event-ID of the last event it had',
      cut === 1 && opens === 2 && proxy.requests.length === 2 && reconnect['last-event-id'] === lastBeforeCut,
      `cut ${cut}, opens ${opens}, ${proxy.requests.length} connections, Last-Event-ID ${JSON.stringify(reconnect['last-event-id'])}, expected ${lastBeforeCut}`);
    t.check('eventsource: every event exactly once, in order, across the reset (none of them a gap event)',
      !difference(received, want), difference(received, want));
    await proxy.close();
  }

  // --- Chromium's EventSource -------------------------------------------------
  {
    const CH = 'browser';
    const browser = await chromium.launch({ executablePath: options.chromium, args: CHROMIUM_ARGS, timeout: 20000 });
    t.defer(() => browser.close());
    const page = await browser.newPage();
    // A page of the server's own origin (even a 404 is one), so that the
    // EventSource is same-origin and needs no CORS.
    const pageUrl = options.hello ? `${base}/hello` : `${base}/`;
    await page.goto(pageUrl, { waitUntil: 'load', timeout: 15000 });
    await page.evaluate(() => {
      window.streams = {};
      window.openStream = (name, url) => {
        const s = { events: [], errors: 0, source: new EventSource(url) };
        const record = (e) => s.events.push({ type: e.type, data: e.data, id: e.lastEventId });
        s.source.onmessage = record;
        s.source.addEventListener('ssepp-gap', record);
        s.source.onerror = () => ++s.errors;
        window.streams[name] = s;
      };
      window.state = (name) => {
        const s = window.streams[name];
        return { readyState: s.source.readyState, errors: s.errors, events: s.events };
      };
    });
    const state = (name) => page.evaluate((n) => window.state(n), name);
    await page.evaluate((ch) => window.openStream('live', `/events/${ch}`), CH);
    await waitFor('Chromium\'s EventSource to open', 10000, async () => (await state('live')).readyState === 1);
    for (let i = 1; i <= 4; ++i) await publish(CH, `browser #${i}`);
    const four = published.get(CH).slice();
    const live = await waitFor('Chromium to get 4 events', 5000, async () => {
      const s = await state('live');
      return s.events.length >= 4 ? s : null;
    }).catch(async () => state('live'));
    t.check(`Chromium's EventSource (page at ${pageUrl}) gets the events published after it opened`,
      !difference(live.events, four), difference(live.events, four));
    await page.evaluate(([ch, id]) => window.openStream('resumed', `/events/${ch}?lastEventId=${encodeURIComponent(id)}`),
      [CH, four[1].id]);
    await waitFor('the resumed EventSource to get 2 events', 5000, async () => (await state('resumed')).events.length >= 2)
      .catch(() => {});
    await publish(CH, 'browser #5');
    const want = published.get(CH).slice(2);
    const resumed = await waitFor('the resumed EventSource to get 3 events', 5000, async () => {
      const s = await state('resumed');
      return s.events.length >= 3 ? s : null;
    }).catch(async () => state('resumed'));
    await sleep(200);
    const resumedNow = await state('resumed');
    t.check('Chromium: ?lastEventId=<2nd id> resumes with events 3, 4, then the live 5: no gap, no duplicate',
      !difference(resumedNow.events, want) && resumed.errors === 0, `${difference(resumedNow.events, want)}; errors ${resumed.errors}`);
    await page.evaluate(() => Object.values(window.streams).forEach((s) => s.source.close()));
    await browser.close();
  }

  // --- a slow consumer ---------------------------------------------------------
  {
    const CH = 'firehose';
    const slow = stream(CH);
    const reader = stream(CH);
    await Promise.all([slow.head, reader.head]);
    slow.pause();
    const rssBefore = rssMegabytes(server.child.pid);
    let rssPeak = rssBefore;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        rssPeak = Math.max(rssPeak, rssMegabytes(server.child.pid));
        await sleep(20);
      }
    })();
    const filler = 'x'.repeat(SLOW_EVENT_BYTES - 8);
    for (let i = 1; i <= SLOW_EVENTS; ++i) await publish(CH, `${String(i).padStart(7, '0')} ${filler}`);
    const want = published.get(CH);
    await reader.waitForEvents(want.length, 15000, 'the reading subscriber').catch(() => {});
    sampling = false;
    await sampler;
    t.check(`slow consumer: a subscriber that reads gets all ${SLOW_EVENTS} events of ${SLOW_EVENT_BYTES / 1024} KiB`,
      !difference(reader.events, want) && reader.end === null, `${difference(reader.events, want)}; end: ${reader.end}`);
    // What the slow one was sent: everything still buffered, then the end.
    slow.resume();
    await Promise.race([slow.ended, sleep(3000)]);
    const seqs = slow.events.map((e) => Number(e.data.slice(0, 7)));
    t.check(`a subscriber that stopped reading was disconnected or missed events (--queue-events ${QUEUE_EVENTS}), not sent all ${SLOW_EVENTS}`,
      slow.end !== null || slow.events.length < SLOW_EVENTS,
      `it got ${slow.events.length} events, ${slow.received} bytes, stream end: ${slow.end}`);
    t.log(`slow subscriber: ${slow.events.length} events (up to #${seqs[seqs.length - 1] ?? 0}), end: ${slow.end}; ` +
      `VmRSS ${rssBefore.toFixed(1)} MB before, ${rssPeak.toFixed(1)} MB at most`);
    t.check(`the server's VmRSS grew by less than ${RSS_BOUND_MB} MB`, rssPeak - rssBefore < RSS_BOUND_MB,
      `${rssBefore.toFixed(1)} MB -> ${rssPeak.toFixed(1)} MB`);
    for (const s of [slow, reader]) s.close();
  }

  // --- SIGTERM -------------------------------------------------------------------
  {
    const busy = stream('stop');
    const idle = stream('stop-idle');
    await Promise.all([busy.head, idle.head]);
    await publish('stop', 'last words');
    await busy.waitForEvents(1, 5000);
    const exitCode = new Promise((resolve) => server.exited.then(() => resolve(server.child.exitCode)));
    const sentAt = Date.now();
    server.child.kill('SIGTERM');
    const ends = await withTimeout(Promise.all([busy.ended, idle.ended]), 5000, 'the open streams to end').catch((e) => e.message);
    t.check('SIGTERM: the open streams end cleanly (the client reads the end of the response)',
      Array.isArray(ends) && ends.every((how) => how === 'end'), JSON.stringify(ends));
    const code = await withTimeout(exitCode, 5000, `${options.name} to exit`).catch((e) => e.message);
    t.check('SIGTERM: the server exits with status 0 within 5 s', code === 0,
      `${code}${server.child.signalCode ? ` (signal ${server.child.signalCode})` : ''}, after ${Date.now() - sentAt} ms`);
  }
});
