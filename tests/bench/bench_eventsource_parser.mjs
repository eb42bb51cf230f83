// The Node peer of ssepp-bench-parser: eventsource-parser fed the inputs the
// C++ benchmark wrote, timed the same way (best of several runs, each
// repeating passes for a minimum time), printed in the same line format:
//
//   result <input> eventsource-parser <feed mode> <MB/s>
//
// MB/s counts the input's bytes per CPU second (10^6 per second), as on the
// C++ side. Each
// file is decoded once, untimed, as a client would with TextDecoder; only
// feed() calls are timed. Whole: one feed() per pass. 64k: the bytes cut
// into 64 KiB chunks, each decoded with a streaming TextDecoder (so no code
// point is split), one feed() per chunk.
//
// usage: node bench_eventsource_parser.mjs INPUTS_DIR [--runs N] [--min-time S]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createParser } from 'eventsource-parser';

const args = process.argv.slice(2);
if (args.length < 1) {
  console.error('usage: node bench_eventsource_parser.mjs INPUTS_DIR [--runs N] [--min-time S]');
  process.exit(2);
}
const dir = args[0];
let runs = 5;
let minTime = 0.3;
for (let i = 1; i < args.length; i += 2) {
  if (args[i] === '--runs') runs = Math.max(1, Number(args[i + 1]));
  else if (args[i] === '--min-time') minTime = Number(args[i + 1]);
  else {
    console.error(`unknown argument: ${args[i]}`);
    process.exit(2);
  }
}

const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
let allGood = true;

// One parse of `chunks`; returns the events seen and the UTF-8 size of their data.
function parse(chunks, measureBytes) {
  let events = 0;
  let dataBytes = 0;
  const parser = createParser({
    onEvent(event) {
      events += 1;
      dataBytes += measureBytes ? Buffer.byteLength(event.data, 'utf8') : event.data.length;
    },
  });
  for (const chunk of chunks) parser.feed(chunk);
  return { events, dataBytes };
}

// CPU seconds used by the process, as the C++ side measures: time spent
// waiting for a core on a busy machine is not the parser's.
function cpuSeconds() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

function measure(bytesPerPass, chunks, expectedEvents) {
  let best = 0;
  for (let run = 0; run < runs; run++) {
    let passes = 0;
    const start = cpuSeconds();
    let elapsed = 0;
    do {
      // The event count is checked on every pass, so no pass can be skipped.
      if (parse(chunks, false).events !== expectedEvents) return 0;
      passes += 1;
      elapsed = cpuSeconds() - start;
    } while (elapsed < minTime);
    best = Math.max(best, (bytesPerPass * passes) / elapsed / 1e6);
  }
  return best;
}

for (const input of manifest.inputs) {
  const bytes = readFileSync(join(dir, input.file));
  if (bytes.length !== input.bytes) {
    console.error(`bench_eventsource_parser: ${input.file} has ${bytes.length} bytes, manifest says ${input.bytes}`);
    process.exit(1);
  }
  const whole = [new TextDecoder('utf-8').decode(bytes)];
  const decoder = new TextDecoder('utf-8');
  const pieces = [];
  for (let at = 0; at < bytes.length; at += manifest.chunk_size) {
    pieces.push(decoder.decode(bytes.subarray(at, at + manifest.chunk_size), { stream: true }));
  }
  const tail = decoder.decode();
  if (tail) pieces.push(tail);

  for (const [mode, chunks] of [['whole', whole], ['64k', pieces]]) {
    // Untimed check: every event and every data byte the generator wrote.
    const got = parse(chunks, true);
    if (got.events !== input.events || got.dataBytes !== input.data_bytes) {
      console.error(
        `bench_eventsource_parser: MISMATCH on (${input.name}) ${mode}: ${got.events} events with ` +
          `${got.dataBytes} data bytes, expected ${input.events} with ${input.data_bytes}`,
      );
      allGood = false;
      continue;
    }
    const mbps = measure(input.bytes, chunks, input.events);
    console.log(`result ${input.name} eventsource-parser ${mode} ${mbps.toFixed(1)}`);
  }
}
process.exit(allGood ? 0 : 1);
