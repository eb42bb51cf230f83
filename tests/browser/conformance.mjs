// Browser conformance: proves that ssepp's parser reports exactly what
// Chromium's EventSource reports, for every vector in vectors.mjs and for
// several splits of the input into chunks.
//
// For each vector a local HTTP server (127.0.0.1, random port) writes the
// vector's bytes as text/event-stream, chunk by chunk with pauses, then ends
// the response. The browser reconnects, the server records the Last-Event-ID
// header of that request and answers 204, which makes the EventSource stop.
// Checked per vector:
//   - Chromium's events equal the spec's (hand-written in the vector), and
//     the Last-Event-ID it reconnects with is the spec's last event ID;
//   - sse-cat (ssepp's parser) prints exactly Chromium's events, fed whole
//     and 1, 2 and 3 bytes at a time, and in raw text mode.
// Chromium is the reference: where it and ssepp disagree, ssepp is wrong.
//
// Usage: node conformance.mjs --sse-cat PATH [--chromium PATH] [--only TEXT]
//        node conformance.mjs --browser-only      (no ssepp: browser vs spec)
// Environment: SSE_CAT and CHROMIUM stand in for the options.
// Exit status 0 when every vector passes; the last line is "N passed, N failed".

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import vectors from './vectors.mjs';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// The ways sse-cat is run on each vector: the whole stream in one feed,
// then 1, 2 and 3 bytes per feed (every split point, and splits that cut
// CRLF pairs, BOMs and UTF-8 sequences at every offset), then raw text mode,
// which must print the same lines.
const SSE_CAT_RUNS = [
  { label: 'ssepp whole', args: [] },
  { label: 'ssepp --chunk 1', args: ['--chunk', '1'] },
  { label: 'ssepp --chunk 2', args: ['--chunk', '2'] },
  { label: 'ssepp --chunk 3', args: ['--chunk', '3'] },
  { label: 'ssepp --raw whole', args: ['--raw'] },
];
// A vector needs its stream time plus one reconnection delay (3 s by
// default in Chromium); anything near this is a hung EventSource.
const VECTOR_TIMEOUT_MS = 20000;

function parseArgs(argv) {
  const options = {
    sseCat: process.env.SSE_CAT || '',
    chromium: process.env.CHROMIUM || '/usr/bin/chromium',
    browserOnly: false,
    only: '',
  };
  for (let i = 0; i < argv.length; ++i) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--sse-cat') options.sseCat = value();
    else if (arg === '--chromium') options.chromium = value();
    else if (arg === '--only') options.only = value();
    else if (arg === '--browser-only') options.browserOnly = true;
    else if (arg === '--help' || arg === '-h') usage('');
    else usage(`unknown argument ${JSON.stringify(arg)}`);
  }
  if (!options.browserOnly && !options.sseCat) {
    usage('no sse-cat given: pass --sse-cat PATH (or SSE_CAT), or --browser-only to check Chromium alone');
  }
  return options;
}

function usage(problem) {
  if (problem) console.error(`conformance.mjs: ${problem}`);
  console.error('usage: node conformance.mjs --sse-cat PATH [--chromium PATH] [--only TEXT] | --browser-only');
  process.exit(problem ? 2 : 0);
}

// --- Showing bytes and events --------------------------------------------

// Bytes as a JS-like string literal: printable ASCII as is, the rest escaped.
function showBytes(buffer, limit = 60) {
  let out = '';
  const shown = buffer.subarray(0, limit);
  for (const byte of shown) {
    if (byte === 0x5c) out += '\\\\';
    else if (byte === 0x22) out += '\\"';
    else if (byte === 0x0a) out += '\\n';
    else if (byte === 0x0d) out += '\\r';
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return `"${out}"${buffer.length > limit ? `…(${buffer.length} bytes)` : ''}`;
}

function showChunks(chunks) {
  const head = chunks.slice(0, 6).map((c) => showBytes(c, 40)).join(' | ');
  return chunks.length > 6 ? `${head} | …(${chunks.length} chunks)` : head;
}

// A string as JSON, cut in the middle when long.
function showString(s) {
  if (s.length <= 80) return JSON.stringify(s);
  return `${JSON.stringify(s.slice(0, 30))}…(${s.length} chars)…${JSON.stringify(s.slice(-20))}`;
}

function showEvent(e) {
  if (!e) return '(none)';
  return `{type: ${showString(e.type)}, data: ${showString(e.data)}, lastEventId: ${showString(e.lastEventId)}}`;
}

function firstDifference(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; ++i) if (a[i] !== b[i]) return i;
  return n;
}

function sameEvent(a, b) {
  return !!a && !!b && a.type === b.type && a.data === b.data && a.lastEventId === b.lastEventId;
}

// Lines describing how `got` differs from `want`, or [] when equal.
function diffEvents(wantName, want, gotName, got) {
  const lines = [];
  if (want.length !== got.length) lines.push(`${wantName} has ${want.length} events, ${gotName} has ${got.length}`);
  const width = Math.max(wantName.length, gotName.length);
  let shown = 0;
  let hidden = 0;
  for (let i = 0; i < Math.max(want.length, got.length); ++i) {
    if (sameEvent(want[i], got[i])) continue;
    if (shown === 4) {
      ++hidden;
      continue;
    }
    ++shown;
    lines.push(`event ${i}: ${wantName.padEnd(width)} ${showEvent(want[i])}`);
    lines.push(`${' '.repeat(String(i).length + 8)}${gotName.padEnd(width)} ${showEvent(got[i])}`);
    if (want[i] && got[i]) {
      for (const field of ['type', 'data', 'lastEventId']) {
        if (want[i][field] === got[i][field]) continue;
        const at = firstDifference(want[i][field], got[i][field]);
        const unit = (s) => (at < s.length ? `U+${s.codePointAt(at).toString(16).toUpperCase().padStart(4, '0')}` : 'end');
        lines.push(`${' '.repeat(String(i).length + 8)}${field} differs at UTF-16 index ${at}: ${unit(want[i][field])} vs ${unit(got[i][field])}`);
      }
    }
  }
  if (hidden) lines.push(`…and ${hidden} more differing events`);
  return lines;
}

// The Last-Event-ID a server reads for a last event ID string: none when it
// is empty, else its UTF-8 bytes less leading and trailing HTTP whitespace.
function expectedHeader(lastEventId) {
  return lastEventId === '' ? null : lastEventId.replace(/^[ \t]+|[ \t]+$/g, '');
}

function showHeader(value) {
  return value === null ? '(no Last-Event-ID header)' : `Last-Event-ID ${JSON.stringify(value)}`;
}

// --- ssepp, through sse-cat ---------------------------------------------------

// Runs sse-cat on the vector's bytes; returns { events } or { error }.
function runSseCat(sseCat, bytes, args) {
  const result = spawnSync(sseCat, args, { input: bytes, maxBuffer: 1 << 30, timeout: 60000 });
  if (result.error) return { error: `could not run ${sseCat}: ${result.error.message}` };
  if (result.status !== 0) {
    const stderr = result.stderr.toString('utf8').trim();
    return { error: `exit status ${result.status ?? result.signal}${stderr ? `: ${stderr}` : ''}` };
  }
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(result.stdout);
  } catch {
    return { error: 'output is not valid UTF-8' };
  }
  const events = [];
  const lines = text.split('\n');
  if (lines.pop() !== '') return { error: 'output does not end with a newline' };
  for (const [n, line] of lines.entries()) {
    let event;
    try {
      event = JSON.parse(line);
    } catch (e) {
      return { error: `line ${n + 1} is not JSON (${e.message}): ${showString(line)}` };
    }
    const keys = event && typeof event === 'object' ? Object.keys(event).sort().join(',') : '';
    if (keys !== 'data,lastEventId,type' || !['type', 'data', 'lastEventId'].every((k) => typeof event[k] === 'string')) {
      return { error: `line ${n + 1} is not {"type":…,"data":…,"lastEventId":…} with string values: ${showString(line)}` };
    }
    events.push({ type: event.type, data: event.data, lastEventId: event.lastEventId });
  }
  return { events };
}

// --- The server -----------------------------------------------------------------

// Per vector: the Last-Event-ID header of every request (null when absent).
function startServer(selected) {
  const requests = selected.map(() => []);
  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url, 'http://127.0.0.1').pathname;
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end('<!doctype html><meta charset="utf-8"><title>ssepp browser conformance</title>');
      return;
    }
    const match = /^\/stream\/(\d+)$/.exec(path);
    const index = match ? Number(match[1]) : -1;
    if (!(index >= 0 && index < selected.length)) {
      res.writeHead(404).end();
      return;
    }
    // Node reads header bytes as Latin-1; the browser sends UTF-8.
    const header = req.headers['last-event-id'];
    requests[index].push(header === undefined ? null : Buffer.from(header, 'latin1').toString('utf8'));
    if (requests[index].length > 1) {
      // The reconnect: 204 No Content makes the EventSource fail for good.
      res.writeHead(204, { 'cache-control': 'no-store' }).end();
      return;
    }
    const vector = selected[index];
    req.socket.setNoDelay(true);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.flushHeaders();
    for (const [k, chunk] of vector.chunks.entries()) {
      // The pause lets each chunk reach the browser in a read of its own.
      if (k > 0) await sleep(vector.delayMs);
      if (chunk.length) res.write(chunk);
    }
    res.end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({ server, requests, port: server.address().port }));
  });
}

// --- The browser ----------------------------------------------------------------

// Runs in the page: opens one EventSource per vector, all at once, and
// resolves when each has reached CLOSED (after the server's 204).
async function collectInPage({ streams, timeoutMs }) {
  function collect({ url, types }) {
    return new Promise((resolve) => {
      const events = [];
      const source = new EventSource(url);
      const record = (e) => {
        if (e instanceof MessageEvent) events.push({ type: e.type, data: e.data, lastEventId: e.lastEventId });
      };
      for (const type of types) source.addEventListener(type, record);
      const timer = setTimeout(() => {
        source.close();
        resolve({ events, timedOut: true });
      }, timeoutMs);
      source.addEventListener('error', (e) => {
        // A stream may name its own events "error": those are MessageEvents.
        if (e instanceof MessageEvent) return;
        if (source.readyState === EventSource.CLOSED) {
          clearTimeout(timer);
          resolve({ events, timedOut: false });
        }
      });
    });
  }
  return Promise.all(streams.map(collect));
}

async function runBrowser(options, selected, typesFor) {
  const { chromium } = await import('playwright-core');
  const { server, requests, port } = await startServer(selected);
  const browser = await chromium.launch({ executablePath: options.chromium, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    const base = `http://127.0.0.1:${port}`;
    await page.goto(`${base}/`);
    const streams = selected.map((v, i) => ({ url: `${base}/stream/${i}`, types: typesFor(v) }));
    const results = await page.evaluate(collectInPage, { streams, timeoutMs: VECTOR_TIMEOUT_MS });
    return { version: browser.version(), results, requests };
  } finally {
    await browser.close();
    server.close();
  }
}

// --- Main -----------------------------------------------------------------------

async function main() {
  const started = Date.now();
  const options = parseArgs(process.argv.slice(2));
  if (!existsSync(options.chromium)) {
    console.error(`conformance.mjs: no Chromium at ${options.chromium} (Debian: apt-get install chromium)`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  if (!options.browserOnly && !existsSync(options.sseCat)) {
    console.error(`conformance.mjs: no sse-cat at ${options.sseCat}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  const names = new Set();
  for (const v of vectors) {
    if (names.has(v.name)) throw new Error(`two vectors are named ${v.name}`);
    names.add(v.name);
  }
  const selected = vectors.filter((v) => v.name.includes(options.only));
  if (!selected.length) usage(`no vector name contains ${JSON.stringify(options.only)}`);

  // ssepp first: the browser then also listens for every type ssepp saw, so
  // an extra event from ssepp shows up as a difference, never as a blind spot.
  const ssepp = selected.map((v) =>
    options.browserOnly ? [] : SSE_CAT_RUNS.map(({ label, args }) => ({ label, ...runSseCat(options.sseCat, v.bytes, args) })));
  const typesFor = (v) => {
    const types = new Set(['message', ...v.types, ...v.events.map((e) => e.type)]);
    for (const run of ssepp[selected.indexOf(v)]) for (const e of run.events ?? []) types.add(e.type);
    return [...types];
  };

  const { version, results, requests } = await runBrowser(options, selected, typesFor);
  console.log(`Chromium ${version}; ${options.browserOnly ? 'browser only (no ssepp)' : `ssepp via ${options.sseCat}`}`);

  let passed = 0;
  let failed = 0;
  for (const [i, v] of selected.entries()) {
    const problems = [];
    const browser = results[i];
    const headers = requests[i];
    if (browser.timedOut) problems.push(`Chromium's EventSource did not close within ${VECTOR_TIMEOUT_MS} ms`);
    const wantRequests = v.reconnects ? 2 : 1;
    if (headers.length !== wantRequests) {
      problems.push(`the browser made ${headers.length} requests, expected ${wantRequests} (${v.reconnects ? 'the stream, then a reconnect' : 'the stream, no reconnect'})`);
    }
    if (headers.length && headers[0] !== null) problems.push(`the first request carried ${showHeader(headers[0])}`);

    const specDiff = diffEvents('spec', v.events, 'Chromium', browser.events);
    if (specDiff.length) problems.push('Chromium differs from the spec expectation:', ...specDiff.map((l) => `  ${l}`));
    if (v.reconnects && headers.length >= 2) {
      const want = expectedHeader(v.lastEventId);
      if (headers[1] !== want) {
        problems.push(`Chromium reconnected with ${showHeader(headers[1])}, expected ${showHeader(want)} (last event ID ${JSON.stringify(v.lastEventId)})`);
      }
    }

    for (const run of ssepp[i]) {
      if (run.error) {
        problems.push(`${run.label}: sse-cat failed: ${run.error}`);
        continue;
      }
      const diff = diffEvents('Chromium', browser.events, run.label, run.events);
      if (diff.length) problems.push(`${run.label} differs from Chromium:`, ...diff.map((l) => `  ${l}`));
    }

    if (problems.length) {
      ++failed;
      console.log(`FAIL ${v.name}: ${v.spec}`);
      console.log(`  bytes: ${showChunks(v.chunks)}`);
      for (const line of problems) console.log(`  ${line}`);
    } else {
      ++passed;
      console.log(`ok   ${v.name}`);
    }
  }
  console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((error) => {
  console.error(`conformance.mjs: ${error.stack || error}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
