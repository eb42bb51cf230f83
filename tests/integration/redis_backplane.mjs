// Three hub_server processes share their channels through one real
// redis-server (the ssepp::redis backplane), which this test starts itself.
// Checked, in order:
//   1. fan-out: subscribers on every node, publishers (single events and
//      batches) on random nodes: every subscriber gets every event exactly
//      once, in id order, and every node numbers from one count;
//   2. resume on another node: a client cut on one node resumes on another
//      with the Last-Event-ID header, then on a third with ?lastEventId=,
//      on a channel the new node had no history of (read from Redis) and on
//      one it had (its own history): no gap, no duplicate;
//   3. Redis killed (SIGKILL) and restarted from its append-only file in
//      the middle of a run of publishes: publishing fails with 503 and
//      Retry-After meanwhile, the open streams stay open, and once Redis is
//      back every event published reaches every subscriber exactly once,
//      with the same epoch and no gap event;
//   4. Redis restarted with its data gone (persistence off): a new epoch,
//      the streams still open get the new events, a client resuming with an
//      id of the old epoch on a node that has no history of it gets the gap
//      event (reason "unknown") and then the new events, and one resuming
//      on a node that has its history gets the missed events from it;
//   5. a node killed and restarted keeps the id sequence: what it publishes
//      next comes after everything published before.
//
// Usage: node redis_backplane.mjs --hub-server PATH --redis-server PATH

import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { Harness, freePort, parseOptions, waitFor, waitForPort } from './harness.mjs';

const options = parseOptions(process.argv.slice(2), { hubServer: '', redisServer: '' },
  'Usage: node redis_backplane.mjs --hub-server PATH --redis-server PATH');

// --- an event stream, read with a small parser of the WHATWG format --------

function openStream(url, headers = {}) {
  const s = { events: [], gaps: [], heartbeats: 0, status: 0, ended: false, bytes: 0 };
  const u = new URL(url);
  s.opened = new Promise((resolve) => {
    s.req = http.get({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers }, (res) => {
      s.status = res.statusCode;
      res.setEncoding('utf8');
      let buffer = '';
      let data = [];
      let type = '';
      let id = null;
      res.on('data', (chunk) => {
        s.bytes += chunk.length;
        buffer += chunk;
        let nl;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line === '') {
            if (data.length) {
              const event = { type: type || 'message', data: data.join('\n'), id };
              (event.type === 'ssepp-gap' ? s.gaps : s.events).push(event);
            }
            data = [];
            type = '';
            id = null;
          } else if (line.startsWith(':')) {
            ++s.heartbeats;
          } else {
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            let value = colon < 0 ? '' : line.slice(colon + 1);
            if (value.startsWith(' ')) value = value.slice(1);
            if (field === 'data') data.push(value);
            else if (field === 'event') type = value;
            else if (field === 'id') id = value;
          }
        }
        resolve();
      });
      res.on('end', () => { s.ended = true; resolve(); });
      res.on('error', () => { s.ended = true; resolve(); });
    });
    s.req.on('error', () => { s.ended = true; resolve(); });
  });
  s.close = () => s.req.destroy();
  s.ids = () => s.events.map((e) => e.id);
  return s;
}

// POST /publish/{channel}: the ids, or { status, retryAfter } when refused.
async function publish(node, channel, events) {
  const batch = Array.isArray(events);
  const body = batch ? events.map((d) => `data: ${d}\n\n`).join('') : events;
  const res = await fetch(`${node.url}publish/${channel}`, {
    method: 'POST',
    headers: batch ? { 'Content-Type': 'text/event-stream' } : {},
    body,
  });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, retryAfter: res.headers.get('retry-after'), text };
  return { ids: text.split('\n').filter(Boolean) };
}

const seqOf = (id) => Number(id.slice(id.lastIndexOf('-') + 1));
const epochOf = (id) => id.slice(0, id.lastIndexOf('-'));
const inOrder = (ids) => ids.every((id, i) => i === 0 || seqOf(ids[i - 1]) < seqOf(id));
const pick = (list) => list[Math.floor(Math.random() * list.length)];
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const show = (ids) => (ids.length > 12 ? `${ids.slice(0, 6).join(' ')} ... ${ids.slice(-6).join(' ')} (${ids.length})` : ids.join(' '));

// --- redis-server, started and restarted by the test -------------------------

class Redis {
  constructor(t, binary) {
    this.t = t;
    this.binary = binary;
    this.dir = mkdtempSync(path.join(tmpdir(), 'ssepp-redis-'));
    t.defer(() => rmSync(this.dir, { recursive: true, force: true }));
  }

  async start({ appendOnly }) {
    if (!this.port) this.port = await freePort();
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '',
      '--appendonly', appendOnly ? 'yes' : 'no', '--appendfsync', 'always', '--daemonize', 'no'];
    this.record = this.t.spawnProcess('redis', this.binary, args);
    await waitForPort('redis-server', '127.0.0.1', this.port, 10000);
  }

  kill() {
    const { child } = this.record;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    return gone;
  }

  wipe() {
    rmSync(this.dir, { recursive: true, force: true });
    this.dir = mkdtempSync(path.join(tmpdir(), 'ssepp-redis-'));
  }
}

async function startNode(t, label, redisPort) {
  return t.startExample(label, options.hubServer, ['--port', '0', '--threads', '2', '--redis',
    `redis://127.0.0.1:${redisPort}`, '--redis-prefix', 'test:', '--heartbeat-ms', '500', '--retry-ms', '200']);
}

// Publishes `count` numbered events to `channel`, one by one on random
// nodes, retrying each after a 503 as the server's Retry-After asks (faster
// here: the test has a deadline). Returns the ids and the 503s seen.
async function publishRetrying(nodes, channel, label, count, { pauseMs = 5, onEach } = {}) {
  const ids = [];
  let refused = 0;
  for (let i = 0; i < count; ++i) {
    for (;;) {
      let r;
      try {
        r = await publish(pick(nodes), channel, `${label}-${i}`);
      } catch {
        r = { status: 0 };
      }
      if (r.ids) {
        ids.push(...r.ids);
        break;
      }
      if (r.status === 503 && r.retryAfter) ++refused;
      await sleep(100);
    }
    if (onEach) await onEach(i);
    if (pauseMs) await sleep(pauseMs);
  }
  return { ids, refused };
}

async function allReceived(streams, count, what) {
  await waitFor(what, 10000, () => streams.every((s) => s.events.length >= count));
}

const t = new Harness('redis_backplane');
t.run(async () => {
  const redis = new Redis(t, options.redisServer);
  await redis.start({ appendOnly: true });
  const nodes = [];
  for (const label of ['node1', 'node2', 'node3']) nodes.push(await startNode(t, label, redis.port));

  // 1. Fan-out across nodes.
  const fanout = [];
  for (const node of nodes) for (let k = 0; k < 2; ++k) fanout.push(openStream(`${node.url}events/all`));
  await Promise.all(fanout.map((s) => s.opened));
  t.check('every node serves the stream', fanout.every((s) => s.status === 200), fanout.map((s) => s.status).join(' '));
  const published = [];
  const publishers = [0, 1, 2, 3].map(async (p) => {
    for (let i = 0; i < 30; ++i) {
      const r = i % 5 === 4 ? await publish(pick(nodes), 'all', [`p${p}-${i}a`, `p${p}-${i}b`, `p${p}-${i}c`])
        : await publish(pick(nodes), 'all', `p${p}-${i}`);
      if (!r.ids) throw new Error(`publish refused: ${r.status} ${r.text}`);
      published.push(...r.ids);
    }
  });
  await Promise.all(publishers);
  const expected = [...published].sort((a, b) => seqOf(a) - seqOf(b));
  await allReceived(fanout, expected.length, `every subscriber to get ${expected.length} events`);
  await sleep(200);  // and nothing more
  t.check(`ids come from one count on every node (${expected.length} events, one epoch, no id twice)`,
    new Set(expected.map(epochOf)).size === 1 && new Set(expected).size === expected.length, show(expected));
  t.check('every subscriber on every node got every event exactly once, in id order',
    fanout.every((s) => same(s.ids(), expected)),
    fanout.map((s, i) => `subscriber ${i}: ${show(s.ids())}`).join('\n'));
  t.check('a batch keeps its events together (consecutive ids)', (() => {
    const data = fanout[0].events.map((e) => e.data);
    const a = data.indexOf('p0-4a');
    return a >= 0 && data[a + 1] === 'p0-4b' && data[a + 2] === 'p0-4c';
  })());

  // 2. Resume on another node: a channel only node1 knows, then one node2
  //    already serves (its own history).
  for (const [channel, label] of [['resume', 'a channel the node had no history of (from Redis)'],
    ['all', 'a channel the node serves already (its own history)']]) {
    const first = openStream(`${nodes[0].url}events/${channel}`);
    await first.opened;
    const before = await publishRetrying(nodes, channel, 'before', 15, { pauseMs: 0 });
    await allReceived([first], before.ids.length, 'the first connection to get its events');
    first.close();
    const lastA = first.ids().at(-1);
    const missedA = await publishRetrying(nodes, channel, 'missed', 10, { pauseMs: 0 });
    const second = openStream(`${nodes[1].url}events/${channel}`, { 'Last-Event-ID': lastA });
    await second.opened;
    await allReceived([second], missedA.ids.length, 'the resumed connection to get what it missed');
    second.close();
    const lastB = second.ids().at(-1);
    const missedB = await publishRetrying(nodes, channel, 'missed2', 10, { pauseMs: 0 });
    const third = openStream(`${nodes[2].url}events/${channel}?lastEventId=${encodeURIComponent(lastB)}`);
    await third.opened;
    await allReceived([third], missedB.ids.length, 'the second resume to get what it missed');
    const live = await publishRetrying(nodes, channel, 'live', 5, { pauseMs: 0 });
    await allReceived([third], missedB.ids.length + live.ids.length, 'live events after the resume');
    third.close();
    const got = [...first.ids(), ...second.ids(), ...third.ids()];
    const want = [...before.ids, ...missedA.ids, ...missedB.ids, ...live.ids];
    t.check(`a client cut and resumed on two other nodes (header, then ?lastEventId=) misses nothing and gets nothing twice: ${label}`,
      same(got, want) && [first, second, third].every((s) => s.gaps.length === 0),
      `got  ${show(got)}\nwant ${show(want)}\ngaps ${[first, second, third].map((s) => s.gaps.length)}`);
  }

  // 3. Redis killed and restarted from its append-only file mid-run.
  const base = fanout[0].events.length;
  const epochBefore = epochOf(expected[0]);
  let killed = false;
  const run = await publishRetrying(nodes, 'all', 'aof', 60, {
    onEach: async (i) => {
      if (i !== 20) return;
      killed = true;
      await redis.kill();
      t.log('redis killed');
      const refusedNow = await publish(pick(nodes), 'all', 'while-down');
      t.check('while Redis is down, publishing is answered 503 with Retry-After',
        refusedNow.status === 503 && refusedNow.retryAfter === '1', JSON.stringify(refusedNow));
      await sleep(500);
      await redis.start({ appendOnly: true });
      t.log('redis restarted from its append-only file');
    },
  });
  t.check('the run crossed the restart', killed && run.ids.length === 60);
  await allReceived(fanout, base + run.ids.length, 'every subscriber to get the events published around the restart');
  await sleep(300);
  t.check('the streams stayed open through the restart', fanout.every((s) => !s.ended));
  t.check('after a restart from the append-only file: every event exactly once, same epoch, no gap event',
    fanout.every((s) => same(s.ids().slice(base), run.ids) && s.gaps.length === 0) &&
      run.ids.every((id) => epochOf(id) === epochBefore),
    fanout.map((s, i) => `subscriber ${i}: ${show(s.ids().slice(base))}`).join('\n') + `\nwant ${show(run.ids)}`);

  // 4. Redis restarted with its data gone.
  const q = openStream(`${nodes[0].url}events/q`);
  await q.opened;
  const qBefore = await publishRetrying(nodes, 'q', 'q', 5, { pauseMs: 0 });
  await allReceived([q], 5, 'channel q to get its events');
  q.close();
  const base2 = fanout[0].events.length;
  await redis.kill();
  redis.wipe();
  await redis.start({ appendOnly: false });
  t.log('redis restarted empty');
  const after = await publishRetrying(nodes, 'all', 'fresh', 10, { pauseMs: 0 });
  const qAfter = await publishRetrying(nodes, 'q', 'qfresh', 3, { pauseMs: 0 });
  await allReceived(fanout, base2 + after.ids.length, 'the open streams to get the new epoch\'s events');
  t.check('a Redis that lost its data numbers under a new epoch',
    after.ids.every((id) => epochOf(id) !== epochBefore), show(after.ids));
  t.check('the open streams survive it and get the new events exactly once, in order',
    fanout.every((s) => same(s.ids().slice(base2), after.ids) && !s.ended && s.gaps.length === 0),
    fanout.map((s, i) => `subscriber ${i}: ${show(s.ids().slice(base2))}`).join('\n') + `\nwant ${show(after.ids)}`);
  const lost = openStream(`${nodes[2].url}events/q`, { 'Last-Event-ID': qBefore.ids[2] });
  await lost.opened;
  const qLive = await publishRetrying(nodes, 'q', 'qlive', 2, { pauseMs: 0 });
  await waitFor('the gap event and live events', 5000, () => lost.gaps.length && lost.events.length >= 2);
  lost.close();
  t.check('an old epoch\'s id on a node without its history: the gap event ("unknown"), then live events',
    lost.gaps.length === 1 && JSON.parse(lost.gaps[0].data).reason === 'unknown' &&
      JSON.parse(lost.gaps[0].data).lastEventId === qBefore.ids[2] && same(lost.ids(), qLive.ids),
    `gaps ${JSON.stringify(lost.gaps)} events ${show(lost.ids())}`);
  const kept = openStream(`${nodes[0].url}events/q`, { 'Last-Event-ID': qBefore.ids[2] });
  await kept.opened;
  const wantKept = [qBefore.ids[3], qBefore.ids[4], ...qAfter.ids, ...qLive.ids];
  await waitFor('the node\'s own history of q', 5000, () => kept.events.length >= wantKept.length);
  kept.close();
  t.check('the same id on the node that has its history: the missed events from it, no gap event',
    kept.gaps.length === 0 && same(kept.ids(), wantKept), `got ${show(kept.ids())}\nwant ${show(wantKept)}`);

  // 5. A node killed and restarted keeps the sequence.
  const lastBefore = Math.max(...[...after.ids, ...qAfter.ids, ...qLive.ids].map(seqOf));
  nodes[2].child.kill('SIGKILL');
  await nodes[2].exited;
  nodes[2] = await startNode(t, 'node3-again', redis.port);
  const next = await publish(nodes[2], 'all', 'after-restart');
  t.check('a restarted node goes on with the same epoch and sequence',
    next.ids && epochOf(next.ids[0]) === epochOf(after.ids[0]) && seqOf(next.ids[0]) === lastBefore + 1,
    JSON.stringify(next));
  // node3's own subscribers went with it.
  const alive = fanout.slice(0, 4);
  await allReceived(alive, base2 + after.ids.length + 1, 'the event published by the restarted node');
  t.check('its event reaches the other nodes\' subscribers', alive.every((s) => s.ids().at(-1) === next.ids[0]));
  for (const s of fanout) s.close();
});
