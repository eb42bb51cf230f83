// hub_server's GET /metrics (--metrics) after a known workload, read as
// Prometheus would: Debian's `promtool check metrics` must accept the page
// (format and naming conventions), and its values must be what the
// workload did. Checked:
//   - the page needs the auth cookie (401 without it) and says its
//     content type is Prometheus's text format 0.0.4;
//   - 3 streams (2 on one channel, 1 on another), 7 events published:
//     subscribers, channels, history, published, deliveries (12), the
//     events-per-write histogram (count = writes, sum = deliveries) and the
//     delay histogram (one per live event, every one within 1 s here);
//   - HTTP responses by status: the streams and publishes (200), the
//     refusals (401 without the cookie, 404);
//   - heartbeats counted on idle streams; history evictions past --history;
//   - a reader that stops reading is disconnected as a slow consumer and
//     counted, and the subscriber gauge drops back;
//   - without --metrics there is no such page (404).
//
// Usage: node metrics.mjs --hub-server PATH --promtool PATH

import { spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import { Harness, parseOptions, waitFor } from './harness.mjs';

const options = parseOptions(process.argv.slice(2), {
  hubServer: process.env.HUB_SERVER || '',
  promtool: process.env.PROMTOOL || '/usr/bin/promtool',
}, 'Usage: node metrics.mjs --hub-server PATH [--promtool PATH]');

const COOKIE = 'session=ops';
const HEARTBEAT_MS = 200;

function request(port, method, path, { body = '', cookie = COOKIE } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port, method, path,
      headers: cookie ? { Cookie: cookie } : {},
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// An event stream whose data lines are collected as they arrive.
function subscribe(port, channel) {
  return new Promise((resolve, reject) => {
    const stream = { data: [], response: null, request: null };
    stream.request = http.get({
      host: '127.0.0.1', port, path: `/events/${channel}`, headers: { Cookie: COOKIE },
    }, (res) => {
      stream.response = res;
      let pending = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop();
        for (const line of lines) if (line.startsWith('data: ')) stream.data.push(line.slice(6));
      });
      res.on('error', () => {});
      resolve(stream);
    });
    stream.request.on('error', reject);
  });
}

// Sample name (labels as written) -> number.
function parseSamples(text) {
  const samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

function promtoolCheck(text) {
  const run = spawnSync(options.promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: run.status, output: `${run.stdout}${run.stderr}`.trim(), error: run.error };
}

const t = new Harness('metrics');
t.run(async () => {
  const server = await t.startExample('hub_server', options.hubServer, [
    '--port', '0', '--metrics', '--auth-cookie', COOKIE, '--heartbeat-ms', String(HEARTBEAT_MS),
    '--history', '4', '--queue-bytes', '65536', '--send-buffer-bytes', '16384',
  ]);
  const { port } = server;
  const metrics = async () => {
    const r = await request(port, 'GET', '/metrics');
    if (r.status !== 200) throw new Error(`GET /metrics answered ${r.status}: ${r.body}`);
    return r;
  };

  const refused = await request(port, 'GET', '/metrics', { cookie: '' });
  t.check('GET /metrics without the auth cookie is refused (401)', refused.status === 401,
    `status ${refused.status}`);
  const first = await metrics();
  t.check('the page is Prometheus text format 0.0.4',
    first.headers['content-type'] === 'text/plain; version=0.0.4; charset=utf-8',
    first.headers['content-type']);

  // The known workload.
  const streams = [await subscribe(port, 'a'), await subscribe(port, 'a'), await subscribe(port, 'b')];
  const noCookie = await request(port, 'GET', '/events/a', { cookie: '' });
  const missing = await request(port, 'GET', '/nothing-here');
  const ids = [];
  for (let i = 1; i <= 5; ++i) ids.push((await request(port, 'POST', '/publish/a', { body: `a${i}` })).body);
  for (let i = 1; i <= 2; ++i) ids.push((await request(port, 'POST', '/publish/b', { body: `b${i}` })).body);
  await waitFor('every stream to get its events', 5000,
    () => streams[0].data.length === 5 && streams[1].data.length === 5 && streams[2].data.length === 2);
  t.check('the workload ran: 401 without the cookie, 404 elsewhere, 7 events published',
    noCookie.status === 401 && missing.status === 404 && ids.every((id) => /^\w+-\d+$/.test(id)),
    `${noCookie.status} ${missing.status} ${ids}`);

  const page = (await metrics()).body;
  const lint = promtoolCheck(page);
  t.check('promtool check metrics accepts the page', !lint.error && lint.status === 0 && lint.output === '',
    lint.error ? lint.error.message : `exit ${lint.status}: ${lint.output}`);
  const s = parseSamples(page);
  const expect = (name, value) => t.check(`${name} is ${value}`, s.get(name) === value, `saw ${s.get(name)}`);
  expect('ssepp_subscribers', 3);
  expect('ssepp_channels', 2);
  expect('ssepp_events_published_total', 7);
  expect('ssepp_history_events', 4 + 2);
  expect('ssepp_history_evictions_total', 1);
  expect('ssepp_deliveries_total', 5 * 2 + 2);
  expect('ssepp_events_per_write_sum', 12);
  // How many writes carried the events is the hub's to decide (it
  // coalesces fast events); each stream had at least one, and its first
  // write carried the retry line alone.
  const eventWrites = s.get('ssepp_events_per_write_count');
  t.check('3 to 12 writes carried the 12 events, each a write of its own beside the streams\' first',
    eventWrites >= 3 && eventWrites <= 12 && s.get('ssepp_writes_total') >= eventWrites + 3 &&
    s.get('ssepp_events_per_write_bucket{le="+Inf"}') === eventWrites,
    `writes with events ${eventWrites}, all writes ${s.get('ssepp_writes_total')}`);
  expect('ssepp_delivery_delay_seconds_count', 12);
  expect('ssepp_delivery_delay_seconds_bucket{le="1"}', 12);
  t.check('the delay sum is positive and below 12 s', s.get('ssepp_delivery_delay_seconds_sum') > 0 &&
    s.get('ssepp_delivery_delay_seconds_sum') < 12, `saw ${s.get('ssepp_delivery_delay_seconds_sum')}`);
  t.check('bytes written cover every event delivered', s.get('ssepp_written_bytes_total') >= 12 * 'data: a1\n\n'.length,
    `saw ${s.get('ssepp_written_bytes_total')}`);
  // Responses so far: the first GET /metrics (this one is counted once
  // sent), 3 streams, 7 publishes; 401s: the page and the stream without
  // a cookie.
  expect('ssepp_http_responses_total{code="200"}', 1 + 3 + 7);
  expect('ssepp_http_responses_total{code="401"}', 2);
  expect('ssepp_http_responses_total{code="404"}', 1);
  t.check('ssepp_connections counts the 3 streams and this request', s.get('ssepp_connections') >= 4,
    `saw ${s.get('ssepp_connections')}`);
  expect('ssepp_slow_consumer_disconnects_total', 0);
  expect('ssepp_dropped_events_total', 0);

  // Idle streams get heartbeats, counted once written.
  await sleep(HEARTBEAT_MS * 3);
  const idle = parseSamples((await metrics()).body);
  t.check('idle streams got heartbeats, counted (at least one per stream)', idle.get('ssepp_heartbeats_total') >= 3,
    `saw ${idle.get('ssepp_heartbeats_total')}`);

  // A reader that stops reading: once the kernel's buffers are full, its
  // queue (64 KiB here) overflows and the hub disconnects it. The events
  // are a quarter of the queue, so only a reader that reads nothing
  // overflows.
  const stalled = net.connect({ host: '127.0.0.1', port });
  await new Promise((resolve) => stalled.once('connect', resolve));
  stalled.write(`GET /events/slow HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nCookie: ${COOKIE}\r\n\r\n`);
  stalled.pause();
  t.defer(() => stalled.destroy());
  await waitFor('the stalled stream to subscribe', 5000, async () =>
    parseSamples((await metrics()).body).get('ssepp_subscribers') === 4);
  const big = 'x'.repeat(16 * 1024);
  let published = 0;
  await waitFor('the slow consumer to be disconnected', 20000, async () => {
    await request(port, 'POST', '/publish/slow', { body: big });
    ++published;
    return parseSamples((await metrics()).body).get('ssepp_slow_consumer_disconnects_total') === 1;
  }, 0);
  const after = parseSamples((await metrics()).body);
  t.check(`a stalled reader was disconnected as a slow consumer (after ${published} events of 16 KiB)`,
    after.get('ssepp_slow_consumer_disconnects_total') === 1 && after.get('ssepp_subscribers') === 3,
    `disconnects ${after.get('ssepp_slow_consumer_disconnects_total')}, subscribers ${after.get('ssepp_subscribers')}`);

  for (const stream of streams) stream.request.destroy();
  await waitFor('the streams to be gone', 5000, async () =>
    parseSamples((await metrics()).body).get('ssepp_subscribers') === 0);
  t.check('closing the streams brings ssepp_subscribers to 0', true);

  const plain = await t.startExample('hub_server (no --metrics)', options.hubServer, ['--port', '0']);
  const none = await request(plain.port, 'GET', '/metrics');
  t.check('without --metrics there is no /metrics page (404)', none.status === 404, `status ${none.status}`);
});
