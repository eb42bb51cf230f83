// sse-cat's URL mode (ssepp's EventSource client) against plain Node HTTP
// servers written the naive way, which send the body with chunked transfer
// encoding (Node's default for a response without Content-Length):
//   res.writeHead(200, {'Content-Type': 'text/event-stream'});
//   setInterval(() => res.write('event: cokolwiek\ndata: 4444\n\n'), ...);
// Checked:
//   - /naive: the response really is chunked; sse-cat prints its events and
//     exits 0 on SIGINT with complete lines;
//   - /split: events cut across chunks (in the middle of a field name, of a
//     CRLF, of a UTF-8 character) come out whole; with --no-reconnect the
//     end of the stream is a clean exit 0, saying so on stderr, while a
//     connection reset (/reset) is exit 1;
//   - /count: the server ends the stream after every third event; sse-cat
//     reconnects after the stream's retry time with Last-Event-ID (none, 3,
//     6) and stops for good, exit 0, when the server answers 204;
//   - /echo: --header, --data, --method and --last-event-id reach the
//     server as sent (it answers with what it got, as an event);
//   - answers a browser refuses: 500 and text/html end sse-cat with exit 1
//     and a message naming the problem, without a reconnect;
//   - --max-event-size: an event over the limit ends sse-cat with exit 1
//     after the events before it, naming the option and the limit;
//   - a redirect is followed (a 301 to a Content-Length body); endless
//     redirects end with exit 1.
//
// Usage: node client_node.mjs --sse-cat PATH

import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import { SseCat, eventLine } from './client_support.mjs';
import { Harness, parseOptions } from './harness.mjs';

const options = parseOptions(process.argv.slice(2), { sseCat: process.env.SSE_CAT || '' },
  'Usage: node client_node.mjs --sse-cat PATH');

const SSE = { 'Content-Type': 'text/event-stream' };

// What /count sends on each connection, by the Last-Event-ID it gets.
const COUNT_PLAN = { '': [1, 2, 3], '3': [4, 5, 6], '6': [7, 8, 9] };

async function writeSplit(res) {
  // Each piece is a write, so a chunk of its own; the pauses make them
  // separate reads too.
  const pieces = [
    Buffer.from('ev'), Buffer.from('ent: cokolwiek\r'), Buffer.from('\ndata: 4444\r\n'), Buffer.from('\r\n'),
    Buffer.from('data: za'), Buffer.from([0xc5]), Buffer.from([0xbc, 0xc3]), Buffer.from([0xb3, 0xc5, 0x82, 0xc4]), Buffer.from([0x87]),
    Buffer.from('\nid: 7\n'), Buffer.from('\n'),
    Buffer.from('data: last'), Buffer.from('\n\n'),
  ];
  for (const piece of pieces) {
    res.write(piece);
    await sleep(5);
  }
  res.end();
}

function startServer(seen) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    seen.push({ path: url.pathname, method: req.method, headers: req.headers });
    if (url.pathname === '/naive') {
      res.writeHead(200, SSE);
      const timer = setInterval(() => res.write('event: cokolwiek\ndata: 4444\n\n'), 20);
      req.on('close', () => clearInterval(timer));
    } else if (url.pathname === '/split') {
      res.writeHead(200, SSE);
      writeSplit(res);
    } else if (url.pathname === '/reset') {
      res.writeHead(200, SSE);
      res.write('data: before the reset\n\n');
      setTimeout(() => res.socket.resetAndDestroy(), 50);
    } else if (url.pathname === '/count') {
      const plan = COUNT_PLAN[req.headers['last-event-id'] || ''];
      if (!plan) {
        res.writeHead(204);
        res.end();
        return;
      }
      res.writeHead(200, SSE);
      res.write('retry: 100\n\n');
      for (const n of plan) res.write(`id: ${n}\ndata: event ${n}\n\n`);
      res.end();
    } else if (url.pathname === '/echo') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk) => { body += chunk; });
      req.on('end', () => {
        res.writeHead(200, SSE);
        res.end(`event: echo\ndata: ${JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body })}\n\n`);
      });
    } else if (url.pathname === '/error') {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('no');
    } else if (url.pathname === '/big') {
      res.writeHead(200, SSE);
      res.end(`data: small\n\ndata: ${'x'.repeat(2000)}\n\ndata: never printed\n\n`);
    } else if (url.pathname === '/moved') {
      res.writeHead(301, { Location: '/fixed' });
      res.end();
    } else if (url.pathname === '/fixed') {
      const body = 'id: f\ndata: a body with Content-Length\n\n';
      res.writeHead(200, { ...SSE, 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    } else if (url.pathname === '/loop') {
      res.writeHead(302, { Location: '/loop' });
      res.end();
    } else if (url.pathname === '/html') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<p>not a stream</p>');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// The response head of GET `path`, read off the socket (fetch and http.get
// hide the framing).
function rawHead(port, path) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () =>
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`));
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end >= 0) {
        socket.destroy();
        resolve(text.slice(0, end));
      }
    });
    socket.on('error', reject);
  });
}

await new Harness('client_node', { timeoutMs: 55000 }).run(async (t) => {
  const seen = [];
  const server = await startServer(seen);
  t.defer(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  const base = `http://127.0.0.1:${server.address().port}`;

  // /naive
  const head = await rawHead(server.address().port, '/naive');
  t.check('control: the naive server answers with Transfer-Encoding: chunked',
    /\r\ntransfer-encoding: chunked/i.test(head), head);
  const naive = new SseCat(t, options.sseCat, [`${base}/naive`], 'sse-cat-naive');
  const naiveLines = await naive.waitForLines(5);
  t.check('/naive: the events arrive as {"type":"cokolwiek","data":"4444","lastEventId":""}',
    naiveLines.every((l) => l === eventLine('cokolwiek', '4444', '')), naiveLines.join('\n'));
  const naiveExit = await naive.stop('SIGINT');
  t.check('/naive: SIGINT ends sse-cat with status 0 and complete lines',
    naiveExit.code === 0 && naive.stdout().endsWith('\n') &&
    naive.lines().every((l) => l === eventLine('cokolwiek', '4444', '')), JSON.stringify(naiveExit));

  // /split
  const split = new SseCat(t, options.sseCat, ['--no-reconnect', `${base}/split`], 'sse-cat-split');
  const splitExit = await split.waitForExit();
  const splitExpected = [eventLine('cokolwiek', '4444', ''), eventLine('message', 'zażółć', '7'),
    eventLine('message', 'last', '7')];
  t.check('/split: events cut across chunks (field name, CRLF, UTF-8 character) arrive whole',
    JSON.stringify(split.lines()) === JSON.stringify(splitExpected), split.stdout());
  t.check('/split: --no-reconnect: the end of the stream is exit 0, said on stderr',
    splitExit.code === 0 &&
    split.stderrLines().some((l) => /^sse-cat: the server closed the event stream: http:\/\/127\.0\.0\.1:\d+\/split$/.test(l)),
    `${JSON.stringify(splitExit)}\n${split.stderrLines().join('\n')}`);

  // /reset
  const reset = new SseCat(t, options.sseCat, ['--no-reconnect', `${base}/reset`], 'sse-cat-reset');
  const resetExit = await reset.waitForExit();
  t.check('/reset: --no-reconnect: a connection reset is exit 1, after the events before it',
    resetExit.code === 1 && JSON.stringify(reset.lines()) === JSON.stringify([eventLine('message', 'before the reset', '')]) &&
    reset.stderrLines().some((l) => /^sse-cat: Connection reset by peer: /.test(l)),
    `${JSON.stringify(resetExit)}\n${reset.stderrLines().join('\n')}`);

  // /count
  const countBefore = seen.length;
  const count = new SseCat(t, options.sseCat, ['--retry', `${base}/count`], 'sse-cat-count');
  const countExit = await count.waitForExit(15000);
  const countExpected = [];
  for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9]) {
    if (n % 3 === 1) countExpected.push(JSON.stringify({ retry: 100 }));
    countExpected.push(eventLine('message', `event ${n}`, String(n)));
  }
  t.check('/count: three streams of three events, each after its retry field, all printed once',
    JSON.stringify(count.lines()) === JSON.stringify(countExpected), count.stdout());
  const sentIds = seen.slice(countBefore).map((r) => r.headers['last-event-id'] ?? null);
  t.check('/count: the requests carried Last-Event-ID none, 3, 6, 9',
    JSON.stringify(sentIds) === JSON.stringify([null, '3', '6', '9']), JSON.stringify(sentIds));
  const reconnects = count.stderrLines().filter((l) => l.startsWith('sse-cat: reconnecting in '));
  t.check('/count: stderr says "reconnecting in N ms: the server closed the event stream" three times, N >= 100',
    reconnects.length === 3 && reconnects.every((l) => {
      const m = l.match(/^sse-cat: reconnecting in (\d+) ms: the server closed the event stream: /);
      return m && Number(m[1]) >= 100;
    }), count.stderrLines().join('\n'));
  t.check('/count: 204 ends sse-cat with status 0, saying so',
    countExit.code === 0 && count.stderrLines().at(-1) === 'sse-cat: the server answered 204 No Content: not reconnecting',
    `${JSON.stringify(countExit)}\n${count.stderrLines().join('\n')}`);

  // /echo
  const body = '{"model":"x","prompt":"zażółć \\"q\\"","stream":true}';
  const echo = new SseCat(t, options.sseCat, ['--no-reconnect',
    '--header', 'Authorization: Bearer s3cr3t', '--header=X-Custom:  a: b ', '--header', 'Content-Type: application/json',
    '--data', body, '--last-event-id', 'prev-41', `${base}/echo?x=1&y=%20`], 'sse-cat-echo');
  const echoExit = await echo.waitForExit();
  const got = echo.lines().length === 1 ? JSON.parse(echo.lines()[0]) : null;
  const request = got && got.type === 'echo' ? JSON.parse(got.data) : {};
  const h = request.headers || {};
  t.check('/echo: --data makes a POST of exactly BODY (Content-Length in bytes) to the URL\'s path and query',
    request.method === 'POST' && request.url === '/echo?x=1&y=%20' && request.body === body &&
    h['content-length'] === String(Buffer.byteLength(body)), echo.stdout());
  t.check('/echo: --header values arrive (surrounding spaces trimmed, inner colon kept)',
    h.authorization === 'Bearer s3cr3t' && h['x-custom'] === 'a: b' && h['content-type'] === 'application/json',
    JSON.stringify(h));
  t.check('/echo: --last-event-id is sent as Last-Event-ID; Accept is text/event-stream; Host names the server',
    h['last-event-id'] === 'prev-41' && h.accept === 'text/event-stream' && h.host === `127.0.0.1:${server.address().port}`,
    JSON.stringify(h));
  t.check('/echo: exit 0 after the one event', echoExit.code === 0, JSON.stringify(echoExit));

  const put = new SseCat(t, options.sseCat, ['--no-reconnect', '--method', 'PUT', `${base}/echo`], 'sse-cat-put');
  await put.waitForExit();
  const putRequest = put.lines().length === 1 ? JSON.parse(JSON.parse(put.lines()[0]).data) : {};
  t.check('/echo: --method PUT without --data sends PUT with an empty body',
    putRequest.method === 'PUT' && putRequest.body === '' && (putRequest.headers || {})['content-length'] === '0',
    put.stdout());
  const get = new SseCat(t, options.sseCat, ['--no-reconnect', `${base}/echo`], 'sse-cat-get');
  await get.waitForExit();
  const getRequest = get.lines().length === 1 ? JSON.parse(JSON.parse(get.lines()[0]).data) : {};
  t.check('/echo: by default a GET without body or Last-Event-ID',
    getRequest.method === 'GET' && getRequest.body === '' && !('last-event-id' in (getRequest.headers || {})),
    get.stdout());

  // Answers a browser refuses: final, even with reconnection on.
  for (const [path, pattern] of [
    ['/error', /^sse-cat: the server answered with an HTTP status other than 200 OK: HTTP 500 from http:\/\/127\.0\.0\.1:\d+\/error$/],
    ['/html', /^sse-cat: the server's answer is not Content-Type: text\/event-stream: Content-Type 'text\/html' from /],
  ]) {
    const before = seen.filter((r) => r.path === path).length;
    const refused = new SseCat(t, options.sseCat, [`${base}${path}`], `sse-cat-${path.slice(1)}`);
    const exit = await refused.waitForExit();
    await sleep(150);  // a reconnect (there must be none) would show up by now
    t.check(`${path}: exit 1 at once, naming the problem, nothing on stdout, no second request`,
      exit.code === 1 && refused.stdout() === '' && refused.stderrLines().some((l) => pattern.test(l)) &&
      seen.filter((r) => r.path === path).length === before + 1,
      `${JSON.stringify(exit)}\n${refused.stderrLines().join('\n')}`);
  }

  // --max-event-size
  const big = new SseCat(t, options.sseCat, ['--max-event-size', '1000', `${base}/big`], 'sse-cat-big');
  const bigExit = await big.waitForExit();
  t.check('--max-event-size 1000: the event before is printed, then exit 1 naming the limit',
    bigExit.code === 1 && JSON.stringify(big.lines()) === JSON.stringify([eventLine('message', 'small', '')]) &&
    big.stderrLines().at(-1) === `sse-cat: event data larger than --max-event-size (1000 bytes) in the stream from ${base}/big`,
    `${JSON.stringify(bigExit)}\n${big.stdout()}\n${big.stderrLines().join('\n')}`);

  // Redirects
  const moved = new SseCat(t, options.sseCat, ['--no-reconnect', `${base}/moved`], 'sse-cat-moved');
  const movedExit = await moved.waitForExit();
  t.check('a 301 is followed; the stream it leads to (with Content-Length) prints, exit 0 at its end',
    movedExit.code === 0 && JSON.stringify(moved.lines()) === JSON.stringify([eventLine('message', 'a body with Content-Length', 'f')]) &&
    moved.stderrLines()[0] === `sse-cat: connected to ${base}/fixed`,
    `${JSON.stringify(movedExit)}\n${moved.stdout()}\n${moved.stderrLines().join('\n')}`);
  const loop = new SseCat(t, options.sseCat, [`${base}/loop`], 'sse-cat-loop');
  const loopExit = await loop.waitForExit();
  t.check('endless redirects: exit 1, saying so',
    loopExit.code === 1 && loop.stderrLines().some((l) => /^sse-cat: more redirects than .*max_redirects: 10 redirects/.test(l)),
    `${JSON.stringify(loopExit)}\n${loop.stderrLines().join('\n')}`);
});
