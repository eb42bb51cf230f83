// What the client_*.mjs tests share: sse-cat in URL mode as a child process
// whose JSON lines and stderr messages the test reads as they come, the line
// a browser's MessageEvent gives for an expected event, and a TCP proxy that
// drops connections and stops listening the way a restarting server does.

import net from 'node:net';

import { waitFor } from './harness.mjs';

// The line sse-cat prints for an event: JSON.stringify of the MessageEvent's
// fields, in this order (see sse-cat --help).
export const eventLine = (type, data, lastEventId) => JSON.stringify({ type, data, lastEventId });

// sse-cat started through the harness (so it is stopped whatever happens).
export class SseCat {
  constructor(t, binary, args, label = 'sse-cat') {
    this.t = t;
    this.label = label;
    this.record = t.spawnProcess(label, binary, args);
    this.child = this.record.child;
    this.out = [];
    this.err = [];
    this.exit = null;
    this.child.stdout.on('data', (chunk) => this.out.push(chunk));
    this.child.stderr.on('data', (chunk) => this.err.push(chunk));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => {
      this.exit = { code, signal };
      resolve(this.exit);
    }));
  }

  // Standard output as text. Decoded whole each time, so a character split
  // between two reads is never mangled.
  stdout() {
    return Buffer.concat(this.out).toString('utf8');
  }

  // The complete lines of standard output (a line still being written is
  // not included).
  lines() {
    const text = this.stdout();
    return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').slice(0, -1);
  }

  stderrLines() {
    return Buffer.concat(this.err).toString('utf8').split('\n').filter((l) => l !== '');
  }

  // Resolves with the lines once there are at least `n`.
  async waitForLines(n, timeoutMs = 10000) {
    return waitFor(`${this.label} to print ${n} lines (has ${this.lines().length})`, timeoutMs,
      () => (this.lines().length >= n ? this.lines() : null));
  }

  // Resolves with the stderr lines once `count` of them match `pattern`.
  async waitForStderr(pattern, timeoutMs = 10000, count = 1) {
    return waitFor(`${this.label} to say ${pattern} on stderr${count > 1 ? ` ${count} times` : ''}`, timeoutMs,
      () => (this.stderrLines().filter((l) => pattern.test(l)).length >= count ? this.stderrLines() : null));
  }

  // Resolves with { code, signal } when it exits; throws after timeoutMs.
  async waitForExit(timeoutMs = 10000) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.label} did not exit within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  // Sends `signal` and waits for the exit.
  async stop(signal = 'SIGTERM', timeoutMs = 5000) {
    if (!this.exit) this.child.kill(signal);
    return this.waitForExit(timeoutMs);
  }
}

// Parses an HTTP request head into { requestLine, 'header-name': value }.
export function parseHead(head) {
  const [requestLine, ...lines] = head.split('\r\n');
  const headers = { requestLine };
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

// A TCP proxy in front of a server, which the test can make misbehave like
// a network or a restarting server: cut() drops every live connection (a
// FIN, or a reset), down() also stops listening (connections are refused),
// up() listens on the same port again. Each connection's request head is
// kept (requests[i].headers), to see what the client sent, Last-Event-ID
// included.
export class CuttableProxy {
  constructor(targetPort, targetHost = '127.0.0.1') {
    this.target = { host: targetHost, port: targetPort };
    this.requests = [];
    this.server = null;
    this.port = 0;
  }

  async up() {
    this.server = net.createServer((client) => this.accept(client));
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    return this.port;
  }

  accept(client) {
    const entry = { head: '', headers: null, client, upstream: net.connect(this.target), live: true };
    this.requests.push(entry);
    client.on('data', (chunk) => {
      if (!entry.headers) {
        entry.head += chunk.toString('latin1');
        const end = entry.head.indexOf('\r\n\r\n');
        if (end >= 0) entry.headers = parseHead(entry.head.slice(0, end));
      }
      entry.upstream.write(chunk);
    });
    entry.upstream.on('data', (chunk) => client.write(chunk));
    const finish = () => {
      entry.live = false;
      client.destroy();
      entry.upstream.destroy();
    };
    client.on('close', finish);
    entry.upstream.on('close', finish);
    client.on('error', () => {});
    entry.upstream.on('error', () => {});
  }

  // Drops the live connections: with a FIN (the client reads the end of the
  // stream) or, with `reset`, an RST (the client reads an error). Returns
  // how many there were.
  cut({ reset = false } = {}) {
    let n = 0;
    for (const entry of this.requests) {
      if (!entry.live) continue;
      ++n;
      entry.live = false;
      if (reset) entry.client.resetAndDestroy();
      else entry.client.end(() => entry.client.destroy());
      entry.upstream.destroy();
    }
    return n;
  }

  // Stops listening and drops the live connections: a server going away.
  async down() {
    const closed = new Promise((resolve) => this.server.close(resolve));
    const n = this.cut();
    await closed;
    this.server = null;
    return n;
  }

  async close() {
    if (this.server) await this.down();
  }
}
