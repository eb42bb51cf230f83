// What the integration tests share: command-line options, the example
// programs started as child processes (and always stopped, whatever
// happens), named checks with a closing "N passed, N failed" line, and a
// deadline for the whole test so that a hung browser, proxy or server fails
// the test instead of stalling CI.

import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

// parseOptions(argv, { name: default, ... }): "--some-name VALUE" fills
// options.someName. An option whose default is `false` is a flag ("--name"
// sets it to true, no value); every other option takes a value. Unknown ones
// are refused.
export function parseOptions(argv, defaults, usage) {
  const options = { ...defaults };
  for (let i = 0; i < argv.length; ++i) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      console.log(usage);
      process.exit(0);
    }
    const key = arg.startsWith('--') ? arg.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase()) : '';
    if (!key || !(key in defaults)) fail(`unknown argument ${JSON.stringify(arg)}\n${usage}`);
    if (defaults[key] === false) {
      options[key] = true;
      continue;
    }
    if (i + 1 >= argv.length) fail(`${arg} needs a value\n${usage}`);
    options[key] = argv[++i];
  }
  for (const [key, value] of Object.entries(options)) {
    if (value === '') fail(`missing --${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}\n${usage}`);
  }
  return options;
}

function fail(message) {
  console.error(message);
  process.exit(2);
}

// A port nobody listens on now. The tests hand it to a program that binds
// it a moment later; another process taking it in between is possible but
// would fail loudly (address in use), never silently.
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Polls `probe` (sync or async) until it returns a truthy value, which is
// returned; throws naming `what` after `timeoutMs`.
export async function waitFor(what, timeoutMs, probe, intervalMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

// `promise`, or a rejection naming `what` after `timeoutMs`.
export function withTimeout(promise, timeoutMs, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Resolves once something listens on host:port.
export async function waitForPort(what, host, port, timeoutMs) {
  return waitFor(`${what} to listen on ${host}:${port}`, timeoutMs, () =>
    new Promise((resolve) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    }), 50);
}

// startNginx(t, nginxBinary, name, configFor): runs nginx from a fresh temp
// prefix with the config configFor(dir, port) returns, on a free port, and
// resolves to { port, dir }. The prefix is removed afterwards, or its error
// log printed when the test failed. A port is free when picked; should
// something take it before nginx binds it, nginx exits and the next attempt
// picks another.
export async function startNginx(t, nginxBinary, name, configFor) {
  // nginx's workers run as `nobody` when the test runs as root: they must
  // be able to enter the prefix directory.
  const dir = mkdtempSync(path.join(tmpdir(), `ssepp-${name}-`));
  chmodSync(dir, 0o755);
  t.defer(() => {
    if (t.failed) {
      console.log(`--- ${dir}/error.log:`);
      try {
        console.log(readFileSync(path.join(dir, 'error.log'), 'utf8').split('\n').slice(-30).join('\n'));
      } catch (e) {
        console.log(`(unreadable: ${e.message})`);
      }
    } else {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  for (let attempt = 1; attempt <= 3; ++attempt) {
    const port = await freePort();
    writeFileSync(path.join(dir, 'nginx.conf'), configFor(dir, port));
    const nginx = t.spawnProcess('nginx', nginxBinary,
      ['-p', dir, '-e', `${dir}/error.log`, '-c', 'nginx.conf', '-g', `daemon off; pid ${dir}/nginx.pid;`],
      { lastResort: 'SIGTERM' });
    const up = await Promise.race([
      waitForPort('nginx', '127.0.0.1', port, 10000).then(() => true),
      nginx.exitedPromise.then(() => false),
    ]);
    if (up) return { port, dir };
    t.log(`nginx did not start (${nginx.exited}) on attempt ${attempt}:\n${nginx.output()}`);
  }
  throw new Error('nginx did not start; see its output above and the error log');
}

export class Harness {
  // name: printed on every line; timeoutMs: the whole test's deadline.
  constructor(name, { timeoutMs = 55000 } = {}) {
    this.name = name;
    this.timeoutMs = timeoutMs;
    this.passed = 0;
    this.failed = 0;
    this.children = [];
    this.cleanups = [];
    this.cleaned = false;
    this.started = Date.now();
    // Last resort when the test is killed or crashes: children must not
    // outlive it (they hold ports and would keep CI's process tree alive).
    process.on('exit', () => this.killChildrenNow());
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
      process.on(signal, () => {
        console.error(`${this.name}: got ${signal}, stopping`);
        this.killChildrenNow();
        process.exit(1);
      });
    }
  }

  log(text) {
    const elapsed = ((Date.now() - this.started) / 1000).toFixed(1);
    console.log(`${this.name} [${elapsed}s]: ${text}`);
  }

  // Records one named check; `detail` says what was seen when it fails.
  check(label, ok, detail = '') {
    if (ok) {
      ++this.passed;
      console.log(`ok    ${label}`);
    } else {
      ++this.failed;
      console.log(`FAIL  ${label}${detail ? `\n      ${String(detail).replace(/\n/g, '\n      ')}` : ''}`);
    }
    return ok;
  }

  // Registers `fn` to run at the end, pass or fail (last registered first).
  defer(fn) {
    this.cleanups.push(fn);
  }

  // Starts a program whose output is kept (output()) and shown when the
  // test fails. `lastResort` is the signal sent if the test itself dies
  // (SIGKILL; nginx gets SIGTERM, so that its master stops its workers).
  spawnProcess(label, binary, args, { lastResort = 'SIGKILL' } = {}) {
    this.log(`starting ${label}: ${binary} ${args.join(' ')}`);
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const record = { label, child, lines: [], exited: null, lastResort };
    this.children.push(record);
    const pending = { out: '', err: '' };
    const onData = (stream) => (chunk) => {
      const text = (pending[stream] + chunk.toString()).split('\n');
      pending[stream] = text.pop();
      for (const line of text) record.lines.push(`[${label} ${stream}] ${line}`);
    };
    child.stdout.on('data', onData('out'));
    child.stderr.on('data', onData('err'));
    record.exitedPromise = new Promise((resolve) => child.once('exit', (code, signal) => {
      record.exited = signal ? `signal ${signal}` : `status ${code}`;
      resolve();
    }));
    child.once('error', (e) => record.lines.push(`[${label}] could not start: ${e.message}`));
    record.output = () => record.lines.join('\n');
    return record;
  }

  // Starts an example program and waits for the URL it prints on its first
  // line of standard output. Returns { child, url, host, port, output }.
  async startExample(label, binary, args, { readyTimeoutMs = 10000 } = {}) {
    const record = this.spawnProcess(label, binary, args);
    const { child, output } = record;
    const exited = record.exitedPromise;
    const url = await Promise.race([
      waitFor(`${label} to print its URL`, readyTimeoutMs, () => {
        const first = record.lines.find((l) => l.startsWith(`[${label} out]`));
        if (!first) return null;
        const m = first.match(/https?:\/\/[^\s"']+/);
        if (!m) throw new Error(`${label}'s first line has no URL: ${first}`);
        return m[0];
      }),
      exited.then(() => {
        throw new Error(`${label} exited (${record.exited}) before printing its URL:\n${output()}`);
      }),
    ]);
    const parsed = new URL(url);
    this.log(`${label} is at ${url}`);
    return { child, url, host: parsed.hostname, port: Number(parsed.port), output, exited };
  }

  killChildrenNow() {
    for (const { child, lastResort } of this.children) {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          child.kill(lastResort);
        } catch {
          // already gone
        }
      }
    }
  }

  // Stops every child: SIGTERM, then SIGKILL after a grace period.
  async stopChildren(graceMs = 3000) {
    const running = this.children.filter(({ child }) => child.exitCode === null && child.signalCode === null);
    await Promise.all(running.map(({ child }) => new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    })));
  }

  async cleanup() {
    if (this.cleaned) return;
    this.cleaned = true;
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        console.error(`${this.name}: cleanup step failed: ${e.message}`);
      }
    }
    await this.stopChildren();
  }

  // Runs `body(harness)` under the deadline, then cleans up and exits with
  // status 0 only when every check passed and at least one ran.
  async run(body) {
    let timer;
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the test took longer than its ${this.timeoutMs} ms deadline`)), this.timeoutMs);
    });
    let error = null;
    try {
      await Promise.race([body(this), deadline]);
    } catch (e) {
      error = e;
    }
    clearTimeout(timer);
    if (error) {
      this.check('test ran to the end', false, error.stack || String(error));
    }
    if (this.failed) {
      for (const { label, lines, exited } of this.children) {
        console.log(`--- output of ${label}${exited ? ` (exited: ${exited})` : ''}:`);
        console.log(lines.slice(-40).join('\n') || '(none)');
      }
    }
    // A cleanup that hangs must not hang the test.
    await Promise.race([this.cleanup(), sleep(8000)]);
    if (this.passed + this.failed === 0) this.check('at least one check ran', false);
    console.log(`${this.name}: ${this.passed} passed, ${this.failed} failed`);
    process.exit(this.failed ? 1 : 0);
  }
}
