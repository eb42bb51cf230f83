// sse-cat's URL mode (ssepp's EventSource client, built with OpenSSL)
// against Node https servers whose self-signed certificates the test makes
// with openssl(1): one for IP:127.0.0.1 and DNS:localhost, one for
// DNS:example.test only. Checked:
//   - with --cacert, https://127.0.0.1 streams: the events arrive exactly,
//     reconnections (new TLS handshakes) send Last-Event-ID, and a 204 ends
//     sse-cat with exit 0;
//   - https://localhost (the certificate's DNS name) works too;
//   - --header and --data reach the server over TLS;
//   - without --cacert the certificate is not trusted: exit 1 with
//     --no-reconnect, "certificate verify failed" on stderr, nothing on
//     stdout, and no HTTP request reaches the server;
//   - a trusted certificate for another name (example.test) is refused
//     too (a control shows Node accepts it for example.test).
//
// Usage: node client_tls.mjs --sse-cat PATH [--openssl PATH]

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

import { SseCat, eventLine } from './client_support.mjs';
import { Harness, parseOptions } from './harness.mjs';

const options = parseOptions(process.argv.slice(2), {
  sseCat: process.env.SSE_CAT || '',
  openssl: process.env.OPENSSL || 'openssl',
}, 'Usage: node client_tls.mjs --sse-cat PATH [--openssl PATH]');

// What /events sends on each connection, by the Last-Event-ID it gets; 204
// for any other.
const PLAN = { '': [1, 2, 3], '3': [4, 5, 6] };

// A self-signed certificate and its key, made by openssl(1) in `dir`.
function makeCertificate(dir, name, subject, altNames) {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.pem`);
  execFileSync(options.openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
    '-keyout', key, '-out', cert, '-subj', subject, '-addext', `subjectAltName=${altNames}`], { stdio: 'pipe' });
  return { key: readFileSync(key), cert: readFileSync(cert), certFile: cert };
}

function startServer({ key, cert }, seen) {
  const server = https.createServer({ key, cert }, (req, res) => {
    seen.push({ url: req.url, method: req.method, headers: req.headers });
    if (req.url === '/events') {
      const plan = PLAN[req.headers['last-event-id'] || ''];
      if (!plan) {
        res.writeHead(204);
        res.end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write('retry: 100\n\n');
      for (const n of plan) res.write(`id: ${n}\nevent: secure\ndata: event ${n} über TLS\n\n`);
      res.end();
    } else if (req.url === '/echo') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk) => { body += chunk; });
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.end(`data: ${JSON.stringify({ method: req.method, token: req.headers.authorization, body })}\n\n`);
      });
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

await new Harness('client_tls', { timeoutMs: 55000 }).run(async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ssepp-tls-'));
  t.defer(() => rmSync(dir, { recursive: true, force: true }));
  const local = makeCertificate(dir, 'local', '/CN=localhost', 'IP:127.0.0.1,DNS:localhost');
  const other = makeCertificate(dir, 'other', '/CN=example.test', 'DNS:example.test');
  t.log(`certificates made in ${dir}`);

  const seen = [];
  const server = await startServer(local, seen);
  const otherServer = await startServer(other, []);
  for (const s of [server, otherServer]) {
    t.defer(() => {
      s.closeAllConnections();
      return new Promise((resolve) => s.close(resolve));
    });
  }
  const port = server.address().port;

  // Trusted, with reconnections and a final 204.
  const cat = new SseCat(t, options.sseCat, ['--cacert', local.certFile, `https://127.0.0.1:${port}/events`]);
  const exit = await cat.waitForExit(15000);
  const expected = [1, 2, 3, 4, 5, 6].map((n) => eventLine('secure', `event ${n} über TLS`, String(n)));
  t.check('--cacert: https://127.0.0.1 streams every event exactly, across a reconnection',
    JSON.stringify(cat.lines()) === JSON.stringify(expected), cat.stdout());
  t.check('the reconnections send Last-Event-ID 3, then 6, over TLS',
    JSON.stringify(seen.map((r) => r.headers['last-event-id'] ?? null)) === JSON.stringify([null, '3', '6']),
    JSON.stringify(seen.map((r) => r.headers['last-event-id'])));
  t.check('the 204 ends sse-cat with status 0',
    exit.code === 0 && cat.stderrLines().at(-1) === 'sse-cat: the server answered 204 No Content: not reconnecting',
    `${JSON.stringify(exit)}\n${cat.stderrLines().join('\n')}`);

  // The certificate's DNS name.
  const byName = new SseCat(t, options.sseCat,
    ['--cacert', local.certFile, '--no-reconnect', `https://localhost:${port}/events`], 'sse-cat-localhost');
  const byNameExit = await byName.waitForExit();
  t.check('--cacert: https://localhost (the DNS name in the certificate) streams too, exit 0 at its end',
    byNameExit.code === 0 && JSON.stringify(byName.lines()) === JSON.stringify(expected.slice(0, 3)),
    `${JSON.stringify(byNameExit)}\n${byName.stdout()}\n${byName.stderrLines().join('\n')}`);

  // A POST with headers, over TLS.
  const post = new SseCat(t, options.sseCat, ['--cacert', local.certFile, '--no-reconnect',
    '--header', 'Authorization: Bearer tls-token', '--data', '{"hello":"TLS"}', `https://127.0.0.1:${port}/echo`],
  'sse-cat-post');
  await post.waitForExit();
  t.check('--header and --data reach the server over TLS',
    post.lines()[0] === eventLine('message', JSON.stringify({ method: 'POST', token: 'Bearer tls-token', body: '{"hello":"TLS"}' }), ''),
    post.stdout());

  // Not trusted.
  const requestsBefore = seen.length;
  const untrusted = new SseCat(t, options.sseCat, ['--no-reconnect', `https://127.0.0.1:${port}/events`], 'sse-cat-untrusted');
  const untrustedExit = await untrusted.waitForExit();
  t.check('without --cacert: exit 1, "certificate verify failed" on stderr, nothing on stdout',
    untrustedExit.code === 1 && untrusted.stdout() === '' &&
    untrusted.stderrLines().some((l) => /^sse-cat: .*certificate verify failed.*: TLS handshake with https:\/\/127\.0\.0\.1:\d+\/events$/.test(l)),
    `${JSON.stringify(untrustedExit)}\n${untrusted.stderrLines().join('\n')}`);
  t.check('without --cacert no HTTP request reaches the server', seen.length === requestsBefore,
    JSON.stringify(seen.slice(requestsBefore)));

  // Trusted, but for another name.
  const otherPort = otherServer.address().port;
  const control = await new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port: otherPort, ca: other.cert, servername: 'example.test' },
      () => {
        resolve(socket.authorized);
        socket.destroy();
      });
    socket.on('error', (e) => resolve(e.message));
  });
  t.check('control: Node accepts the example.test certificate for example.test', control === true, String(control));
  const wrongName = new SseCat(t, options.sseCat,
    ['--cacert', other.certFile, '--no-reconnect', `https://127.0.0.1:${otherPort}/events`], 'sse-cat-wrong-name');
  const wrongNameExit = await wrongName.waitForExit();
  t.check('a trusted certificate for example.test is refused for https://127.0.0.1: exit 1, certificate error',
    wrongNameExit.code === 1 && wrongName.stdout() === '' &&
    wrongName.stderrLines().some((l) => /certificate verify failed/.test(l)),
    `${JSON.stringify(wrongNameExit)}\n${wrongName.stderrLines().join('\n')}`);
});
