// The rtk_query example in a real browser: Debian's Chromium (headless,
// driven by playwright-core) opens the React + Redux Toolkit Query page that
// rtk_query_server serves from the Vite build, with the channels in a
// redis-server this test starts. Checked:
//   (d) without a session (a fresh browser context) both streams are
//       refused 401 and the page says "Stream refused: not signed in (401)";
//   (a) after signing in through the page's form, each company's panel
//       shows MENU_UPDATE_UNINITIALIZED, its stream open;
//   (b) an event published from the admin form (a second page) and one
//       published over HTTP from Node (with the session cookie) show in
//       their company's panel within 1 s;
//   (c) a company's panel lists only its own company's events;
//   (e) unmounting the panels closes both streams: /metrics says
//       ssepp_subscribers 0 within 2 s;
//   (f) the server restarted (same port, same Redis, same sessions file),
//       events published before and right after the restart: each panel's
//       EventSource reconnects with Last-Event-ID and lists every event
//       exactly once, in order;
//   and signing out: both streams refused again.
// --screenshot PATH writes a 1000x600 screenshot of both panels after (c)
// (examples/rtk_query/screenshot.png is made with it). On failure a
// screenshot of the page is written to a temporary file.
//
// Usage: node rtk_query.mjs --server PATH --static DIR --redis-server PATH
//                           [--chromium PATH] [--screenshot PATH]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

import { Harness, freePort, parseOptions, waitFor, waitForPort } from './harness.mjs';

const USAGE = 'Usage: node rtk_query.mjs --server PATH --static DIR --redis-server PATH [--chromium PATH] [--screenshot PATH]';
const options = parseOptions(process.argv.slice(2), {
  server: process.env.RTK_QUERY_SERVER || '',
  static: process.env.RTK_QUERY_WEB || '',
  redisServer: process.env.REDIS_SERVER || '',
  chromium: process.env.CHROMIUM || '/usr/bin/chromium',
  screenshot: '-',  // none
}, USAGE);

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const STREAM_PATH = '/sseapi/crm/sse-emitter/';
const SHOWN_WITHIN_MS = 1000;

// What a company's panel shows (see CompanyPanel.jsx's data-testid).
function readPanel(page, companyId) {
  return page.evaluate((id) => {
    const panel = document.querySelector(`[data-testid="panel-${id}"]`);
    if (!panel) return null;
    const text = (testId) => panel.querySelector(`[data-testid="${testId}"]`)?.textContent ?? null;
    return {
      stream: text('stream')?.replace(/^stream: /, ''),
      refusal: text('refusal'),
      type: text('type'),
      courseName: text('courseName'),
      courseId: text('courseId'),
      companyId: text('companyId'),
      lastEventId: text('lastEventId'),
      received: [...panel.querySelectorAll('[data-testid="received"] li')].map((li) => ({
        id: li.dataset.id, company: li.dataset.company, name: li.textContent.replace(/^#\S+ /, ''),
      })),
    };
  }, companyId);
}

const panelsGone = (page) => page.evaluate(() => !document.querySelector('[data-testid^="panel-"]'));

async function subscribers(origin) {
  const body = await (await fetch(`${origin}/metrics`)).text();
  const m = body.match(/^ssepp_subscribers (\d+)$/m);
  return m ? Number(m[1]) : NaN;
}

// redis-server on a free port, in a temporary folder; no persistence is
// needed, it outlives every server restart.
async function startRedis(t) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ssepp-rtk-redis-'));
  t.defer(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  t.spawnProcess('redis', options.redisServer,
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no']);
  await waitForPort('redis-server', '127.0.0.1', port, 10000);
  return port;
}

await new Harness('rtk_query', { timeoutMs: 55000 }).run(async (t) => {
  const redisPort = await startRedis(t);
  const dir = mkdtempSync(path.join(tmpdir(), 'ssepp-rtk-query-'));
  t.defer(() => rmSync(dir, { recursive: true, force: true }));
  // A fixed port, so that the restarted server is where the page expects it.
  const port = await freePort();
  const serverArgs = ['--host', '127.0.0.1', '--port', String(port), '--static', options.static,
    '--sessions', path.join(dir, 'sessions'), '--redis', `redis://127.0.0.1:${redisPort}`, '--redis-prefix', 'test:',
    '--heartbeat-ms', '500', '--retry-ms', '200'];
  let server = await t.startExample('rtk_query_server', options.server, serverArgs);
  const origin = `http://127.0.0.1:${port}`;

  const browser = await chromium.launch({ executablePath: options.chromium, args: CHROMIUM_ARGS, timeout: 20000 });
  t.defer(() => browser.close());
  t.log(`Chromium ${browser.version()}`);
  const viewport = { width: 1000, height: 600 };

  // --- (d) no session: refused ---------------------------------------------
  const stranger = await browser.newContext({ viewport });
  const strangerPage = await stranger.newPage();
  const refusedStatuses = [];
  strangerPage.on('response', (r) => {
    if (r.url().includes(STREAM_PATH)) refusedStatuses.push(r.status());
  });
  await strangerPage.goto(origin + '/', { waitUntil: 'load', timeout: 15000 });
  const refused = await waitFor('both panels to say the stream was refused', 10000, async () => {
    const panels = [await readPanel(strangerPage, 1), await readPanel(strangerPage, 2)];
    return panels.every((p) => p?.stream === 'refused' && p.refusal) ? panels : null;
  });
  t.check('(d) without a session the page says "Stream refused: not signed in (401)" for both companies',
    refused.every((p) => p.refusal === 'Stream refused: not signed in (401)'), JSON.stringify(refused));
  t.check('(d) the server answered both stream requests 401',
    refusedStatuses.length >= 2 && refusedStatuses.every((s) => s === 401), JSON.stringify(refusedStatuses));
  await stranger.close();

  // --- (a) signed in: uninitialized ----------------------------------------
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  t.defer(async () => {
    if (!t.failed) return;
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'ssepp-rtk-query-shot-')), 'page.png');
    await page.screenshot({ path: file }).catch(() => {});
    console.log(`rtk_query: screenshot of the page: ${file}`);
  });
  // Every stream the server answered, with the Last-Event-ID it was asked
  // with (for (f)); reconnection attempts that found no server have none.
  const streamResponses = [];
  // (allHeaders: headers() lacks those the network stack adds, as
  // EventSource's Last-Event-ID.)
  page.on('response', async (r) => {
    if (!r.url().includes(STREAM_PATH)) return;
    const entry = { at: Date.now(), url: r.url(), status: r.status(), lastEventId: null };
    streamResponses.push(entry);
    entry.lastEventId = (await r.request().allHeaders().catch(() => ({})))['last-event-id'] ?? null;
  });
  await page.goto(origin + '/', { waitUntil: 'load', timeout: 15000 });
  await page.getByTestId('login-user').fill('alice');
  await page.getByTestId('login-submit').click();
  await waitFor('the page to say "Signed in as alice"', 5000,
    async () => (await page.getByTestId('session').textContent()) === 'Signed in as alice');
  const fresh = await waitFor('both streams to open', 10000, async () => {
    const panels = [await readPanel(page, 1), await readPanel(page, 2)];
    return panels.every((p) => p?.stream === 'open') ? panels : null;
  });
  t.check('(a) after signing in each panel shows MENU_UPDATE_UNINITIALIZED',
    fresh.every((p) => p.type === 'MENU_UPDATE_UNINITIALIZED' && p.received.length === 0), JSON.stringify(fresh));

  // --- (b) published from the admin form and over HTTP -----------------------
  const cookie = (await context.cookies(origin)).find((c) => c.name === 'session');
  t.check('the session cookie is HttpOnly and SameSite=Lax', cookie?.httpOnly && cookie.sameSite === 'Lax',
    JSON.stringify(cookie));
  const publish = async (companyId, courseId, courseName) => {
    const answer = await fetch(`${origin}/api/menu-update`, {
      method: 'POST',
      headers: { Cookie: `session=${cookie.value}` },
      body: new URLSearchParams({ companyId, courseId, courseName }),
    });
    const body = await answer.json();
    if (!answer.ok) throw new Error(`publishing ${courseName} answered ${answer.status}: ${JSON.stringify(body)}`);
    return body.id;
  };
  const status = async (url, init = {}) => (await fetch(origin + url, init)).status;
  const withCookie = { headers: { Cookie: `session=${cookie.value}` } };
  t.check('a companyId that is not digits is no stream (404)',
    (await status(`${STREAM_PATH}1x`, withCookie)) === 404 && (await status(STREAM_PATH, withCookie)) === 404);
  t.check('publishing without the session cookie is refused 401', (await status('/api/menu-update', {
    method: 'POST', body: new URLSearchParams({ companyId: 1, courseId: 1, courseName: 'Nope' }) })) === 401);
  // Milliseconds from `start` until the company's panel shows `name`.
  const shownAfter = async (start, companyId, name, timeoutMs = 5000) => {
    await waitFor(`panel ${companyId} to show ${name}`, timeoutMs,
      async () => (await readPanel(page, companyId))?.courseName === name, 5);
    return Date.now() - start;
  };

  const admin = await context.newPage();
  await admin.goto(origin + '/admin', { waitUntil: 'load', timeout: 15000 });
  await admin.getByTestId('admin-company').fill('1');
  await admin.getByTestId('admin-course-id').fill('7');
  await admin.getByTestId('admin-course-name').fill('Algebra');
  let start = Date.now();
  await admin.getByTestId('admin-publish').click();
  const adminLatency = await shownAfter(start, 1, 'Algebra');
  t.check(`(b) published from the admin page, shown in panel 1 within ${SHOWN_WITHIN_MS} ms (${adminLatency} ms)`,
    adminLatency <= SHOWN_WITHIN_MS);
  const adminResult = await admin.getByTestId('admin-result').textContent();
  t.check('the admin page says which id the event got', /^published id \S+$/.test(adminResult), adminResult);
  await admin.close();

  start = Date.now();
  await publish(2, 8, 'Geometry');
  const httpLatency = await shownAfter(start, 2, 'Geometry');
  t.check(`(b) published over HTTP from Node, shown in panel 2 within ${SHOWN_WITHIN_MS} ms (${httpLatency} ms)`,
    httpLatency <= SHOWN_WITHIN_MS);
  const panel2 = await readPanel(page, 2);
  t.check('panel 2 shows the whole event: type, courseName, courseId, companyId, lastEventId',
    panel2.type === 'MENU_UPDATE_END' && panel2.courseId === '8' && panel2.companyId === '2' && panel2.lastEventId !== '-',
    JSON.stringify(panel2));

  // --- (c) each panel its own company's events --------------------------------
  await publish(2, 9, 'Chemistry');
  await publish(1, 10, 'Biology');
  await shownAfter(Date.now(), 1, 'Biology');
  await shownAfter(Date.now(), 2, 'Chemistry');
  const [one, two] = [await readPanel(page, 1), await readPanel(page, 2)];
  const names = (p) => p.received.map((e) => e.name).join(', ');
  t.check('(c) panel 1 lists company 1\'s events only', names(one) === 'Algebra, Biology' &&
    one.received.every((e) => e.company === '1'), JSON.stringify(one.received));
  t.check('(c) panel 2 lists company 2\'s events only', names(two) === 'Geometry, Chemistry' &&
    two.received.every((e) => e.company === '2'), JSON.stringify(two.received));
  if (options.screenshot !== '-') {
    await page.screenshot({ path: options.screenshot });
    t.log(`screenshot: ${options.screenshot}`);
  }

  // --- (e) unmounting closes the streams -------------------------------------
  t.check('/metrics counts the page\'s two streams', (await subscribers(origin)) === 2);
  start = Date.now();
  await page.getByTestId('toggle-panels').click();
  await waitFor('the panels to unmount', 2000, () => panelsGone(page));
  const closed = await waitFor('ssepp_subscribers to drop to 0', 2000, async () => (await subscribers(origin)) === 0)
    .then(() => true, () => false);
  t.check(`(e) unmounting the panels closes both streams: ssepp_subscribers 0 (${Date.now() - start} ms)`, closed);

  // --- (f) server restart: resume with Last-Event-ID through Redis ------------
  await page.getByTestId('toggle-panels').click();
  await waitFor('both streams to open again', 10000, async () =>
    (await readPanel(page, 1))?.stream === 'open' && (await readPanel(page, 2))?.stream === 'open');
  const sent = { 1: [], 2: [] };
  const send = async (companyId, name) => sent[companyId].push({ id: await publish(companyId, 1, name), name });
  await send(1, 'Before restart (1)');
  await send(2, 'Before restart (2)');
  await shownAfter(Date.now(), 1, 'Before restart (1)');
  await shownAfter(Date.now(), 2, 'Before restart (2)');

  const stoppedAt = Date.now();
  server.child.kill('SIGTERM');
  await server.exited;
  t.log('server stopped');
  server = await t.startExample('rtk_query_server (restarted)', options.server, serverArgs);
  const restartedAt = Date.now();
  // Right after the restart, before the page has reconnected (most likely:
  // it retries every 200 ms), so that they come from Redis on resume.
  await send(1, 'After restart (1)');
  await send(2, 'After restart (2)');
  const publishedAt = Date.now();
  await shownAfter(restartedAt, 1, 'After restart (1)', 10000);
  const resumedMs = await shownAfter(restartedAt, 2, 'After restart (2)', 10000);
  t.log(`the events published right after the restart were shown ${resumedMs} ms after it`);
  await send(1, 'Live (1)');
  await send(2, 'Live (2)');
  await shownAfter(Date.now(), 1, 'Live (1)');
  await shownAfter(Date.now(), 2, 'Live (2)');

  for (const companyId of [1, 2]) {
    const p = await readPanel(page, companyId);
    const expected = sent[companyId];
    const got = p.received.map((e) => `${e.id} ${e.name}`);
    t.check(`(f) panel ${companyId} lists every event once, in order, across the restart`,
      got.length === expected.length && expected.every((e, i) => got[i] === `${e.id} ${e.name}`),
      `expected ${JSON.stringify(expected.map((e) => `${e.id} ${e.name}`))}, got ${JSON.stringify(got)}`);
    const resumed = streamResponses.filter((r) => r.at >= stoppedAt && r.url.endsWith(`${STREAM_PATH}${companyId}`));
    t.check(`(f) panel ${companyId}'s EventSource reconnected with Last-Event-ID ${expected[0].id}`,
      resumed.length === 1 && resumed[0].status === 200 && resumed[0].lastEventId === expected[0].id,
      JSON.stringify(resumed));
    if (resumed.length) {
      t.log(`panel ${companyId} reconnected ${resumed[0].at - restartedAt} ms after the restart, ` +
        `${resumed[0].at - publishedAt} ms after the events published right after it`);
    }
  }

  // Signing out ends the session: the panels, mounted afresh, are refused.
  await page.getByTestId('logout').click();
  const signedOut = await waitFor('both panels to say the stream was refused after signing out', 10000, async () => {
    const panels = [await readPanel(page, 1), await readPanel(page, 2)];
    return panels.every((p) => p?.stream === 'refused' && p.refusal) ? panels : null;
  });
  t.check('after signing out the page says "Stream refused: not signed in (401)"',
    signedOut.every((p) => p.refusal === 'Stream refused: not signed in (401)'), JSON.stringify(signedOut));
});
