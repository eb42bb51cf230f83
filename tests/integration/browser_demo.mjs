// The demo in a real browser: Debian's Chromium (headless, driven by
// playwright-core) opens front.html from the `www` example, and the page's
// EventSource (cross-origin, withCredentials) shows naive_backend's events.
// Checked:
//   - the page reaches state "open" and lists plain messages ("tick #N")
//     and `cokolwiek` events ("4444 #N");
//   - the stream request went cross-origin with the page's Origin and the
//     browser's cookie (credentials), and the answer allowed exactly that
//     origin with credentials, as text/event-stream;
//   - no CORS error in the console;
//   - a page from an origin the backend does not allow (a second www on
//     another port) gets no event: its EventSource ends up closed.
// On failure a screenshot of each page is written to a temporary file.
//
// Usage: node browser_demo.mjs --www PATH --naive-backend PATH [--chromium PATH]

import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { Harness, freePort, parseOptions, waitFor, withTimeout } from './harness.mjs';

const options = parseOptions(process.argv.slice(2), {
  www: process.env.WWW || '',
  naiveBackend: process.env.NAIVE_BACKEND || '',
  chromium: process.env.CHROMIUM || '/usr/bin/chromium',
}, 'Usage: node browser_demo.mjs --www PATH --naive-backend PATH [--chromium PATH]');

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
const INTERVAL_MS = 200;

// What a page shows: its connection state and the events listed.
function readPage(page) {
  return page.evaluate(() => ({
    state: document.getElementById('state').dataset.state,
    count: Number(document.getElementById('count').textContent),
    events: [...document.querySelectorAll('#events li.event')].map((li) => ({
      type: li.dataset.type,
      data: li.querySelector('.data')?.textContent,
      id: li.querySelector('.id')?.textContent,
    })),
  }));
}

// The status and headers answered to a GET with this Origin.
function headersFor(url, origin) {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers: { Origin: origin, Accept: 'text/event-stream' } }, (response) => {
      resolve({ status: response.statusCode, headers: response.headers });
      response.destroy();
    });
    request.on('error', reject);
    request.setTimeout(5000, () => request.destroy(new Error(`no answer from ${url} in 5 s`)));
  });
}

await new Harness('browser_demo', { timeoutMs: 55000 }).run(async (t) => {
  const wwwPort = await freePort();
  const origin = `http://127.0.0.1:${wwwPort}`;
  const backend = await t.startExample('naive_backend', options.naiveBackend,
    ['--host', '127.0.0.1', '--port', '0', '--interval-ms', String(INTERVAL_MS), '--cors', origin]);
  const streamUrl = `http://127.0.0.1:${backend.port}/events`;
  const www = await t.startExample('www', options.www,
    ['--host', '127.0.0.1', '--port', String(wwwPort), '--backend', streamUrl]);
  // The same page from another origin: a second www on its own port.
  const stranger = await t.startExample('www (origin not allowed)', options.www,
    ['--host', '127.0.0.1', '--port', '0', '--backend', streamUrl]);

  const browser = await chromium.launch({ executablePath: options.chromium, args: CHROMIUM_ARGS, timeout: 20000 });
  t.defer(() => browser.close());
  t.log(`Chromium ${browser.version()}`);
  const context = await browser.newContext();
  // A cookie for the backend's host: withCredentials must carry it along.
  await context.addCookies([{ name: 'demo_session', value: 'abc123', url: streamUrl }]);

  const pages = [];
  t.defer(async () => {
    if (!t.failed) return;
    const screenshotDir = mkdtempSync(path.join(tmpdir(), 'ssepp-browser-demo-'));
    for (const [label, page] of pages) {
      const file = path.join(screenshotDir, `${label}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      console.log(`browser_demo: screenshot of the ${label} page: ${file}`);
    }
  });

  // --- the allowed origin --------------------------------------------------
  const page = await context.newPage();
  pages.push(['allowed', page]);
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  // The stream's response (headers), or why the browser dropped it: a CORS
  // refusal shows as a failed request, never as a response.
  const streamResponse = new Promise((resolve, reject) => {
    page.on('response', (r) => {
      if (r.url().startsWith(streamUrl)) resolve(r);
    });
    page.on('requestfailed', (r) => {
      if (r.url().startsWith(streamUrl)) {
        reject(new Error(`the browser dropped the stream request: ${r.failure()?.errorText}; console: ${consoleLines.join(' | ')}`));
      }
    });
  });
  streamResponse.catch(() => {});  // awaited below; may fail before that
  t.log(`opening ${www.url}`);
  await page.goto(www.url, { waitUntil: 'load', timeout: 15000 });
  t.check('www serves front.html with the backend in ?backend=', new URL(page.url()).searchParams.get('backend') === streamUrl,
    page.url());

  const response = await withTimeout(streamResponse, 10000, 'the stream request\'s response');
  const requestHeaders = await response.request().allHeaders();
  const responseHeaders = await response.allHeaders();
  t.check('the EventSource request is cross-origin, with the page\'s Origin', requestHeaders.origin === origin,
    `Origin: ${requestHeaders.origin}`);
  t.check('withCredentials: the browser sent the backend\'s cookie', /demo_session=abc123/.test(requestHeaders.cookie || ''),
    `Cookie: ${requestHeaders.cookie}`);
  t.check('the backend answers 200 text/event-stream',
    response.status() === 200 && /^text\/event-stream/.test(responseHeaders['content-type'] || ''),
    `${response.status()} ${responseHeaders['content-type']}`);
  t.check('CORS: Access-Control-Allow-Origin is the page\'s origin, with credentials',
    responseHeaders['access-control-allow-origin'] === origin && responseHeaders['access-control-allow-credentials'] === 'true',
    JSON.stringify(responseHeaders));

  const shown = await waitFor('the page to show a message and a cokolwiek event', 10000, async () => {
    const s = await readPage(page);
    const hasMessage = s.events.some((e) => e.type === 'message' && /^tick #\d+$/.test(e.data));
    const hasNamed = s.events.some((e) => e.type === 'cokolwiek' && /^4444 #\d+$/.test(e.data));
    return hasMessage && hasNamed && s.events.length >= 4 ? s : null;
  }).catch(async (e) => {
    t.log(`page now: ${JSON.stringify(await readPage(page))}`);
    throw e;
  });
  t.check('the page is open', shown.state === 'open', shown.state);
  const messages = shown.events.filter((e) => e.type === 'message');
  const named = shown.events.filter((e) => e.type === 'cokolwiek');
  t.check('the page shows "tick #N" messages', messages.length > 0 && messages.every((e) => /^tick #\d+$/.test(e.data)),
    JSON.stringify(messages));
  t.check('the page shows cokolwiek events "4444 #N"', named.length > 0 && named.every((e) => /^4444 #\d+$/.test(e.data)),
    JSON.stringify(named));
  // Each tick is a message then a cokolwiek with the same N, in that order.
  const pairs = shown.events.slice(shown.events[0].type === 'message' ? 0 : 1);
  let paired = true;
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    if (pairs[i].type !== 'message' || pairs[i + 1].type !== 'cokolwiek' ||
        pairs[i].data.split('#')[1] !== pairs[i + 1].data.split('#')[1]) paired = false;
  }
  t.check('events arrive in order: tick #N, then 4444 #N', paired, JSON.stringify(shown.events));
  t.check('every event carries an id (the hub assigns one)', shown.events.every((e) => e.id), JSON.stringify(shown.events));
  const corsErrors = consoleLines.filter((l) => /CORS|Access-Control/i.test(l));
  t.check('no CORS error in the console', corsErrors.length === 0, corsErrors.join('\n'));
  t.log(`allowed page shows ${shown.count} events, e.g. ${JSON.stringify(shown.events.slice(0, 2))}`);

  // --- an origin not allowed -----------------------------------------------
  const strangerOrigin = `http://127.0.0.1:${stranger.port}`;
  const other = await context.newPage();
  pages.push(['not-allowed', other]);
  const otherConsole = [];
  other.on('console', (m) => otherConsole.push(`${m.type()}: ${m.text()}`));
  const failedRequests = [];
  other.on('requestfailed', (r) => {
    if (r.url().startsWith(streamUrl)) failedRequests.push(r.failure()?.errorText);
  });
  t.log(`opening ${stranger.url}`);
  await other.goto(stranger.url, { waitUntil: 'load', timeout: 15000 });
  // The EventSource fails the connection (CORS check) and stays closed;
  // meanwhile the backend ticks many times, which the allowed page shows.
  const before = (await readPage(page)).count;
  const closed = await waitFor('the not-allowed page\'s EventSource to close', 10000, async () => {
    const s = await readPage(other);
    return s.state === 'closed' ? s : null;
  }).catch(() => null);
  await new Promise((resolve) => setTimeout(resolve, 5 * INTERVAL_MS));
  const after = await readPage(other);
  const allowedAfter = (await readPage(page)).count;
  t.check(`a page from ${strangerOrigin} (not allowed) gets no events`, after.count === 0 && after.events.length === 0,
    JSON.stringify(after));
  t.check('its EventSource is closed (the browser refused the response)', closed !== null, `state ${after.state}`);
  t.check('meanwhile the allowed page kept receiving', allowedAfter > before, `${before} -> ${allowedAfter}`);
  const blocked = otherConsole.filter((l) => l.includes(streamUrl) && /blocked by CORS policy/.test(l));
  t.check('Chromium blocked the stream by CORS policy', blocked.length > 0 && failedRequests.length > 0,
    `console: ${otherConsole.join(' | ')}; failed requests: ${failedRequests.join(', ')}`);
  // What the browser was answered, asked the same way outside the browser.
  const asStranger = await headersFor(streamUrl, strangerOrigin);
  t.check('the backend answers the stranger\'s origin 403 without Access-Control-Allow-Origin',
    asStranger.status === 403 && !('access-control-allow-origin' in asStranger.headers), JSON.stringify(asStranger));
  t.log(`console of the not-allowed page: ${otherConsole.join(' | ') || '(empty)'}`);
});
