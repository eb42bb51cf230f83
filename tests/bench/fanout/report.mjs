// Prints the fan-out benchmark's tables from the JSON lines run.sh wrote:
// the floor, table 1 (every server pinned to one core), table 2 (ssepp on
// both cores), ssepp's cost as a multiple of the floor, ssepp's cost with
// two threads against one, and the goals of issues 5 and 11 as met/missed.
// Ratios are always peer / ssepp of the same table, from the same run.
//
// usage: node report.mjs RESULTS.jsonl [--quick 0|1]
import { readFileSync } from 'node:fs';

const [file] = process.argv.slice(2);
if (!file) {
  console.error('usage: node report.mjs RESULTS.jsonl');
  process.exit(2);
}
const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
const entries = [];
let floor = null;
for (const line of lines) {
  let v;
  try {
    v = JSON.parse(line);
  } catch {
    continue;
  }
  if (v.tool === 'floor') floor = v;
  else entries.push(v);
}

const workloadTitles = {
  1: '1: 1,000 x 100/s',
  '2a': '2: 1,000 x 400/s',
  '2b': '2: 1,000 x 1,000/s',
  '2c': '2: 1,000 x 3,000/s',
  3: '3: streams x 10/s',
  4: '4: idle + heartbeats',
  5: '5: 1,000 x 100/s, 100 stalled',
  6: '6: 1 x 100,000/s, batches',
};
const order = ['1', '2a', '2b', '2c', '3', '4', '5', '6'];
const serverOrder = ['ssepp', 'nchan', 'naive', 'better-sse'];
const stalledBoundKiB = 100 * 64;  // run.sh: ssepp --queue-bytes 65536 in workload 5

const find = (table, workload, server) =>
  entries.find((e) => e.table === table && e.workload === workload && e.server === server);

const fmt = (v, digits = 2) =>
  v === undefined || v === null || Number.isNaN(v) ? '-' : v.toFixed(digits);
const thousands = (v) => (v === undefined ? '-' : Math.round(v).toLocaleString('en-US'));
const ratio = (v, base) => (base > 0 && v !== undefined ? ` x${(v / base).toFixed(2)}` : '');
const bytes = (b) => (b === undefined ? '-' : b >= 10240 ? `${(b / 1024).toFixed(1)} KiB` : `${Math.round(b)} B`);
const pad = (s, n) => String(s).padEnd(n);
const padl = (s, n) => String(s).padStart(n);

// CPU per delivery: the process's plus its cores' ksoftirqd threads' (see run.sh).
const cpu = (r) => r.server_cpu_us_per_delivery_with_ksoftirqd ?? r.server_cpu_us_per_delivery;

function rssPerConn(e) {
  const r = e.result;
  return e.workload === '4' ? r.rss_end_per_conn_bytes : r.rss_per_conn_bytes;
}

function notes(e) {
  const r = e.result;
  const n = [];
  if (e.workload === '3' || e.workload === '4' || r.connected < r.clients)
    n.push(`${r.connected}/${r.clients} streams`);
  if (r.failed > 0) n.push(`${r.failed} failed: ${r.first_failure}`);
  if (e.workload === '4')
    n.push(`heartbeats reached ${r.streams_with_heartbeat} streams; RSS ${(r.rss_end_kib / 1024).toFixed(0)} MiB at the end`);
  if (e.workload === '5') {
    n.push(`RSS +${(r.rss_growth_kib / 1024).toFixed(1)} MiB while stalled`);
    if (r.kernel_send_queue_end_kib !== undefined)
      n.push(`kernel send queues ${(r.kernel_send_queue_end_kib / 1024).toFixed(1)} MiB at the end`);
    n.push(`${r.stalled_closed}/${r.stalled} stalled closed by the server`);
  }
  if (r.publish_errors > 0) n.push(`${r.publish_errors} publish errors: ${r.first_publish_error}`);
  if (r.closed_during_run > 0) n.push(`${r.closed_during_run} readers closed by the server`);
  if (r.duplicates > 0) n.push(`${r.duplicates} duplicates`);
  if (r.load_cpu_util > 0.9) n.push(`load tool at ${Math.round(r.load_cpu_util * 100)}% of its core`);
  // Other processes on the machine (shared machines drift): busy time of
  // the cores beyond what the server, its ksoftirqd and the load tool used
  // (tick-sampled, so a rough figure).
  if (Array.isArray(r.cores_busy) && r.cores_busy.length >= 2) {
    const softirq = r.window_s > 0 ? (r.server_ksoftirqd_s ?? 0) / r.window_s : 0;
    const others = e.threads > 1
      ? r.cores_busy.reduce((a, b) => a + b, 0) - softirq - r.server_cpu_util - r.load_cpu_util
      : r.cores_busy[0] - softirq - r.server_cpu_util;
    if (others > 0.1) n.push(`other processes took ${Math.round(others * 100)}% of ${e.threads > 1 ? 'the cores' : 'core 0'}`);
  }
  if (e.threads > 1) n.push(`${e.threads} threads, unpinned`);
  return n.join('; ');
}

function printTable(title, rows) {
  console.log(title);
  const header = [
    pad('workload', 30),
    pad('server', 12),
    padl('deliveries/s', 20),
    padl('CPU us/delivery', 17),
    padl('process only', 16),
    padl('p50 ms', 8),
    padl('p99 ms', 8),
    padl('max ms', 9),
    padl('loss', 9),
    padl('RSS/stream', 18),
    '  notes',
  ].join(' ');
  console.log(header);
  console.log('-'.repeat(header.length + 20));
  for (const [workload, list] of rows) {
    const base = list.find((e) => e.server === 'ssepp' && e.result);
    let first = true;
    for (const e of list) {
      let label = first ? workloadTitles[workload] ?? workload : '';
      if (first && workload === '3' && e.result) label = `3: ${e.result.clients.toLocaleString('en-US')} x 10/s`;
      if (first && workload === '4' && e.result) label = `4: ${e.result.clients.toLocaleString('en-US')} idle + heartbeats`;
      first = false;
      const name = e.threads > 1 ? 'ssepp x2' : e.server;
      if (!e.result) {
        console.log([pad(label, 30), pad(name, 12), `  ${e.error}`].join(' '));
        continue;
      }
      const r = e.result;
      const b = base && base !== e ? base.result : null;
      const idle = workload === '4';
      console.log(
        [
          pad(label, 30),
          pad(name, 12),
          padl(idle ? '-' : thousands(r.deliveries_per_s) + (b ? ratio(r.deliveries_per_s, b.deliveries_per_s) : ''), 20),
          padl(idle ? '-' : fmt(cpu(r), 3) + (b ? ratio(cpu(r), cpu(b)) : ''), 17),
          padl(idle ? '-' : fmt(r.server_cpu_us_per_delivery, 3) + (b ? ratio(r.server_cpu_us_per_delivery, b.server_cpu_us_per_delivery) : ''), 16),
          padl(idle ? '-' : fmt(r.latency_ms.p50), 8),
          padl(idle ? '-' : fmt(r.latency_ms.p99), 8),
          padl(idle ? '-' : fmt(r.latency_ms.max, 1), 9),
          padl(idle ? '-' : thousands(r.loss), 9),
          padl(bytes(rssPerConn(e)) + (b ? ratio(rssPerConn(e), rssPerConn(base)) : ''), 18),
          '  ' + notes(e),
        ].join(' '),
      );
    }
  }
  console.log();
}

// --- floor ---
const floorUs = {};
const floorProcessUs = {};
if (floor) {
  for (const r of floor.results) {
    floorUs[r.events_per_write] = r.cpu_us_per_event_with_ksoftirqd ?? r.cpu_us_per_event;
    floorProcessUs[r.events_per_write] = r.cpu_us_per_event;
  }
  console.log(
    `Floor: one thread writing ${floor.event_bytes} B events to ${floor.connections} loopback sockets, ` +
      'CPU per event with the core\'s ksoftirqd (thread only): ' +
      floor.results
        .map((r) => `${r.events_per_write}/write ${floorUs[r.events_per_write].toFixed(3)} us (${r.cpu_us_per_event.toFixed(3)})`)
        .join(', '),
  );
  console.log();
}

// --- table 1 ---
const rows1 = [];
for (const w of order) {
  const list = serverOrder.map((s) => find(1, w, s)).filter(Boolean);
  if (list.length) rows1.push([w, list]);
}
printTable('Table 1: each server pinned to core 0, load tool on core 1 (xN: peer / ssepp)', rows1);

// --- table 2 ---
const rows2 = [];
for (const w of order) {
  const two = find(2, w, 'ssepp');
  if (!two) continue;
  const peers = serverOrder.filter((s) => s !== 'ssepp').map((s) => find(1, w, s)).filter(Boolean);
  const one = find(1, w, 'ssepp');
  // Ratios against ssepp on two cores: put it first under the name ssepp.
  rows2.push([w, [{ ...two, server: 'ssepp' }, ...(one ? [{ ...one, server: 'ssepp x1', threads: 1 }] : []), ...peers]]);
}
if (rows2.length) {
  printTable(
    'Table 2: ssepp --threads 2 on both cores (unpinned), load tool on core 1; peers and ssepp x1 from table 1 (xN: against ssepp x2)',
    rows2.map(([w, list]) => [w, list.map((e) => (e.server === 'ssepp x1' ? { ...e, server: 'ssepp x1' } : e))]),
  );
}

// --- multiples of the floor ---
if (floor) {
  console.log('ssepp CPU per delivery as a multiple of the floor at 1 / 4 / 16 events per write');
  console.log('(with ksoftirqd; in brackets process only against the thread-only floor):');
  for (const table of [1, 2]) {
    for (const w of order) {
      const e = find(table, w, 'ssepp');
      if (!e || !e.result || w === '4' || !(e.result.server_cpu_us_per_delivery > 0)) continue;
      const us = cpu(e.result);
      const proc = e.result.server_cpu_us_per_delivery;
      const m = [1, 4, 16].map((k) => (floorUs[k] ? `${(us / floorUs[k]).toFixed(2)}x` : '-')).join(' / ');
      const mp = [1, 4, 16].map((k) => (floorProcessUs[k] ? `${(proc / floorProcessUs[k]).toFixed(2)}x` : '-')).join(' / ');
      console.log(`  ${pad(`table ${table}, ${workloadTitles[w]}`, 40)} ${fmt(us, 3)} us = ${m}   (${fmt(proc, 3)} us = ${mp})`);
    }
  }
  console.log();
}

const verdict = (ok) => (ok === null ? 'n/a   ' : ok ? 'met   ' : 'MISSED');

// --- threads ---
// ssepp with two threads (table 2) against one (table 1), same run, and
// latency against nchan's (table 1).
{
  const rows = order
    .filter((w) => w !== '4')
    .map((w) => [w, find(1, w, 'ssepp'), find(2, w, 'ssepp'), find(1, w, 'nchan')])
    .filter(([, one, two]) => one?.result && two?.result);
  if (rows.length) {
    console.log('ssepp with 2 threads against 1 (CPU per delivery with ksoftirqd; 2/1 is the ratio), latency against nchan:');
    console.log(
      [pad('workload', 30), padl('1 thread', 10), padl('2 threads', 10), padl('2/1', 6),
        padl('p50 ms x1 / x2 / nchan', 26), padl('p99 ms x1 / x2 / nchan', 26)].join(' '),
    );
    for (const [w, one, two, n] of rows) {
      const a = one.result, b = two.result, c = n?.result;
      console.log(
        [
          pad(workloadTitles[w], 30),
          padl(fmt(cpu(a), 3), 10),
          padl(fmt(cpu(b), 3), 10),
          padl(fmt(cpu(b) / cpu(a)), 6),
          padl(`${fmt(a.latency_ms.p50)} / ${fmt(b.latency_ms.p50)} / ${c ? fmt(c.latency_ms.p50) : '-'}`, 26),
          padl(`${fmt(a.latency_ms.p99)} / ${fmt(b.latency_ms.p99)} / ${c ? fmt(c.latency_ms.p99) : '-'}`, 26),
        ].join(' '),
      );
    }
    const idle1 = find(1, '4', 'ssepp'), idle2 = find(2, '4', 'ssepp');
    if (idle1?.result && idle2?.result)
      console.log(`  ${pad(workloadTitles['4'], 28)} RSS per stream ${bytes(rssPerConn(idle1))} (1 thread), ${bytes(rssPerConn(idle2))} (2 threads)`);
    console.log();
  }
}

// --- goals ---
console.log('Goals (issue 11): 2 threads against 1 from tables 1 and 2; against nchan, both pinned (table 1);');
console.log('"default" is hub_server\'s default of one thread per core (table 2 on 2 cores):');
for (const w of ['1', '2a', '2b']) {
  const one = find(1, w, 'ssepp'), two = find(2, w, 'ssepp');
  if (!one?.result || !two?.result) continue;
  const r = cpu(two.result) / cpu(one.result);
  console.log(`  ${verdict(r <= 1.1)} workload ${w}: CPU per delivery with 2 threads / 1 thread ${fmt(r)} <= 1.10`);
}
{
  const s = find(1, '1', 'ssepp'), n = find(1, '1', 'nchan');
  if (s?.result && n?.result) {
    const a = s.result, c = n.result;
    console.log(`  ${verdict(a.latency_ms.p50 <= c.latency_ms.p50)} workload 1: ssepp p50 ${fmt(a.latency_ms.p50)} ms <= nchan's ${fmt(c.latency_ms.p50)} ms`);
    console.log(`  ${verdict(a.latency_ms.p99 <= c.latency_ms.p99)} workload 1: ssepp p99 ${fmt(a.latency_ms.p99)} ms <= nchan's ${fmt(c.latency_ms.p99)} ms`);
    console.log(
      `  ${verdict(cpu(a) <= cpu(c) / 2)} workload 1: ssepp CPU/delivery ${fmt(cpu(a), 3)} us <= 1/2 of nchan's ${fmt(cpu(c), 3)} us ` +
        `(ssepp/nchan ${fmt(cpu(a) / cpu(c))})`,
    );
  }
}
{
  const s = find(1, '2a', 'ssepp'), n = find(1, '2a', 'nchan');
  if (s?.result && n?.result) {
    const a = s.result, c = n.result;
    console.log(
      `  ${verdict(cpu(a) <= cpu(c) / 4 && a.loss === 0)} workload 2a: ssepp CPU/delivery ${fmt(cpu(a), 3)} us <= 1/4 of nchan's ` +
        `${fmt(cpu(c), 3)} us (ssepp/nchan ${fmt(cpu(a) / cpu(c))}) and loss ${a.loss} = 0`,
    );
  }
}
{
  const s = find(2, '4', 'ssepp');
  if (s?.result) {
    const b = s.result.rss_end_per_conn_bytes;
    console.log(
      `  ${verdict(b <= 1536 && s.result.connected === s.result.clients)} workload 4, default: ssepp ${bytes(b)} per idle stream <= 1.5 KiB ` +
        `(${s.result.connected}/${s.result.clients} streams)`,
    );
  }
}
{
  const s = find(2, '6', 'ssepp') ?? find(1, '6', 'ssepp');
  if (s?.result) {
    const r = s.result;
    // The goal is a subscriber that keeps up with a publisher sustaining
    // 100,000 events/s: every event arrives (no loss) at the rate offered.
    // The received rate is counted over the publishing window, which the
    // last events' latency stretches a little, hence 1 % of slack.
    const kept = r.loss === 0 && r.rate >= 100000 && r.deliveries_per_s >= 0.99 * r.rate;
    console.log(
      `  ${verdict(kept)} workload 6, ${s.table === 2 ? 'default' : 'one thread'}: one subscriber kept up with ` +
        `${thousands(r.rate)} events/s offered (>= 100,000): received ${thousands(r.deliveries_per_s)}/s, ` +
        `loss ${r.loss} of ${thousands(r.published)} (batches of ${r.batch})`,
    );
  }
}
console.log();

console.log('Goals (issue 5), table 1 (one core each):');
for (const w of ['2a', '2b']) {
  const s = find(1, w, 'ssepp');
  const n = find(1, w, 'nchan');
  if (!s?.result) continue;
  const r = s.result;
  const cpuOk = n?.result ? cpu(r) <= cpu(n.result) / 4 : null;
  console.log(
    `  ${verdict(cpuOk)} workload ${w}: ssepp CPU/delivery ${fmt(cpu(r), 3)} us <= 1/4 of nchan's ` +
      `${n?.result ? fmt(cpu(n.result), 3) : '-'} us` +
      (n?.result
        ? ` (nchan/ssepp ${(cpu(n.result) / cpu(r)).toFixed(2)}; process only ` +
          `${(n.result.server_cpu_us_per_delivery / r.server_cpu_us_per_delivery).toFixed(2)})`
        : ''),
  );
  console.log(`  ${verdict(r.latency_ms.p99 <= 25)} workload ${w}: ssepp p99 ${fmt(r.latency_ms.p99)} ms <= 25 ms`);
  console.log(`  ${verdict(r.loss === 0)} workload ${w}: ssepp loss ${r.loss} = 0`);
}
{
  // Saturation: each server's best deliveries/s of workloads 2b and 2c.
  const best = (server) =>
    ['2b', '2c']
      .map((w) => find(1, w, server))
      .filter((e) => e?.result)
      .reduce((a, e) => (!a || e.result.deliveries_per_s > a.result.deliveries_per_s ? e : a), null);
  const s = best('ssepp');
  const n = best('nchan');
  if (s && n) {
    const offered = s.result.rate * s.result.connected;
    const capped = s.result.deliveries_per_s >= 0.97 * offered;
    console.log(
      `  ${verdict(s.result.deliveries_per_s >= 4 * n.result.deliveries_per_s)} saturation (best of 2b, 2c): ssepp ` +
        `${thousands(s.result.deliveries_per_s)} deliveries/s (${s.workload}) >= 4x nchan's ` +
        `${thousands(n.result.deliveries_per_s)} (${n.workload}): ` +
        `${(s.result.deliveries_per_s / n.result.deliveries_per_s).toFixed(2)}x` +
        (capped ? `; ssepp kept up with all ${thousands(offered)}/s offered, so its ceiling is higher` : ''),
    );
  }
}
{
  const s = find(1, '4', 'ssepp');
  if (s?.result) {
    const b = s.result.rss_end_per_conn_bytes;
    console.log(
      `  ${verdict(b <= 2048 && s.result.connected === s.result.clients)} workload 4: ssepp ${bytes(b)} per idle stream <= 2 KiB ` +
        `(${s.result.connected}/${s.result.clients} streams)`,
    );
  }
}
{
  const s = find(1, '5', 'ssepp');
  const one = find(1, '1', 'ssepp');
  if (s?.result) {
    const r = s.result;
    console.log(
      `  ${verdict(r.rss_growth_kib <= stalledBoundKiB)} workload 5: ssepp RSS grew ${(r.rss_growth_kib / 1024).toFixed(1)} MiB ` +
        `with 100 stalled streams <= the queue bound ${(stalledBoundKiB / 1024).toFixed(2)} MiB` +
        (r.stalled_closed === 0
          ? ` (the bound was never reached: no stalled stream was closed` +
            (r.kernel_send_queue_end_kib !== undefined
              ? `; the kernel held ${(r.kernel_send_queue_end_kib / 1024).toFixed(1)} MiB in their send queues)`
              : ')')
          : `; ${r.stalled_closed} stalled streams closed by the server)`),
    );
    console.log(
      `  ${verdict(r.latency_ms.p99 <= 25 && r.loss === 0)} workload 5: the 900 readers' p99 ${fmt(r.latency_ms.p99)} ms <= 25 ms ` +
        `and no loss (${r.loss})` +
        (one?.result ? `; workload 1 p99 was ${fmt(one.result.latency_ms.p99)} ms` : ''),
    );
  }
}
console.log();
console.log('CPU is the server process\'s utime+stime (the scheduler\'s exact runtime, with the softirq work');
console.log('loopback does in its context) plus its core\'s ksoftirqd (both cores\' in table 2) over the');
console.log('measuring window, divided by deliveries; "process only" leaves ksoftirqd out;');
console.log('latency is publish (POST issued) to the read() that brought the event; loss is what a reading');
console.log('stream had not received by the end of the drain (5 s after the last publish: a server far');
console.log('behind shows it as loss); RSS/stream is (VmRSS with all streams open - VmRSS before) / streams,');
console.log('after the hold in workload 4. Workload 5\'s kernel send queues are the server sockets\' unsent');
console.log('bytes (/proc/net/tcp), memory a stalled stream costs outside any RSS.');
