// The LLM stream example: llm_server streams a text token by token on
// OpenAI's chat-completions API, read by ssepp's llm_client and by OpenAI's
// own npm client (`openai`, pointed at the example with baseURL). Checked:
//   - llm_client prints exactly the text the server was given (UTF-8
//     included), ends at [DONE] with status 0, and with a wrong key exits
//     with status 1 naming the 401;
//   - openai's client, stream: true: the text it assembles from the deltas
//     equals the text, the chunks share one id, exactly one carries a
//     finish_reason ("stop", on the last), and they arrive spread over time
//     (streamed, not sent at the end);
//   - openai's client without streaming gets the whole text; with
//     max_tokens the stream ends with finish_reason "length" and the usage
//     chunk (stream_options.include_usage) counts the tokens sent;
//   - a wrong key is openai's AuthenticationError (401), a body that is not
//     JSON is a 400 with OpenAI's error object;
//   - an aborted request frees the server's stream at once
//     (ssepp_event_feeds back to 0 within 500 ms, the server's log says
//     the generation stopped early), and the server serves the next one.
//
// Usage: node llm_stream.mjs --llm-server PATH --llm-client PATH

import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

import OpenAI from 'openai';

import { Harness, parseOptions, waitFor } from './harness.mjs';

const options = parseOptions(process.argv.slice(2), {
  llmServer: process.env.LLM_SERVER || '',
  llmClient: process.env.LLM_CLIENT || '',
}, 'Usage: node llm_stream.mjs --llm-server PATH --llm-client PATH');

const API_KEY = 'sk-ssepp-test';
const TOKENS_PER_SECOND = 40;
// 30 tokens (words with their leading spaces), non-ASCII included: 0.75 s
// per answer at the rate above.
const TEXT = 'Zażółć gęślą jaźń: one event per token, each written the moment it exists, ' +
  'so the reader sees the answer grow — and when the reader leaves, ' +
  'the server stops at once. 🚀 Done.';
const WORDS = TEXT.split(' ').length;

function run(binary, args) {
  return new Promise((resolve) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function feedsOpen(base) {
  const page = await (await fetch(`${base}metrics`)).text();
  const m = page.match(/^ssepp_event_feeds (\d+)$/m);
  return m ? Number(m[1]) : NaN;
}

const t = new Harness('llm_stream');
await t.run(async () => {
  const server = await t.startExample('llm_server', options.llmServer, [
    '--port', '0', '--api-key', API_KEY, '--tokens-per-second', String(TOKENS_PER_SECOND),
    '--text', TEXT, '--verbose',
  ]);
  const base = server.url.endsWith('/') ? server.url : `${server.url}/`;
  const endpoint = `${base}v1/chat/completions`;

  // --- ssepp's own client -------------------------------------------------
  const ours = await run(options.llmClient, ['--url', endpoint, '--api-key', API_KEY, 'Hello']);
  t.check('llm_client exits 0 after [DONE]', ours.code === 0, `status ${ours.code}: ${ours.stderr}`);
  t.check('llm_client printed exactly the text', ours.stdout === `${TEXT}\n`,
    `printed ${JSON.stringify(ours.stdout)}`);
  const refused = await run(options.llmClient, ['--url', endpoint, '--api-key', 'sk-wrong', 'Hello']);
  t.check('llm_client with a wrong key exits 1', refused.code === 1, `status ${refused.code}`);
  t.check('llm_client says the server answered 401', /HTTP 401/.test(refused.stderr), refused.stderr);
  t.check('llm_client printed no answer when refused', refused.stdout === '', refused.stdout);

  // --- OpenAI's client ---------------------------------------------------------
  const openai = new OpenAI({ apiKey: API_KEY, baseURL: `${base}v1`, maxRetries: 0 });
  const messages = [{ role: 'user', content: 'What are Server-Sent Events?' }];
  const stream = await openai.chat.completions.create({ model: 'ssepp-demo', messages, stream: true });
  let assembled = '';
  const ids = new Set();
  const finishes = [];
  const arrivals = [];
  let chunks = 0;
  for await (const chunk of stream) {
    ++chunks;
    ids.add(chunk.id);
    t.check(`chunk ${chunks} is a chat.completion.chunk`, chunk.object === 'chat.completion.chunk', chunk.object);
    const choice = chunk.choices[0];
    if (choice.delta?.content) {
      assembled += choice.delta.content;
      arrivals.push(Date.now());
    }
    if (choice.finish_reason) finishes.push({ at: chunks, reason: choice.finish_reason });
  }
  t.check('openai: the assembled text equals the text sent', assembled === TEXT,
    `assembled ${JSON.stringify(assembled)}`);
  t.check(`openai: one chunk per token (${WORDS}), plus the role and the finish`, chunks === WORDS + 2,
    `${chunks} chunks`);
  t.check('openai: every chunk has the same id', ids.size === 1, [...ids].join(', '));
  t.check('openai: exactly one finish_reason, "stop", on the last chunk',
    finishes.length === 1 && finishes[0].reason === 'stop' && finishes[0].at === chunks,
    JSON.stringify(finishes));
  // At 40 tokens/s the 30 tokens take 0.725 s from the first to the last;
  // sent at the end they would arrive together.
  const spread = arrivals[arrivals.length - 1] - arrivals[0];
  t.log(`the tokens arrived over ${spread} ms`);
  t.check('openai: the tokens arrived as they were produced, spread over time',
    spread >= 0.5 * ((WORDS - 1) / TOKENS_PER_SECOND) * 1000, `spread ${spread} ms`);

  const whole = await openai.chat.completions.create({ model: 'ssepp-demo', messages });
  t.check('openai without stream: the whole text in one answer',
    whole.choices[0].message.content === TEXT && whole.choices[0].finish_reason === 'stop',
    JSON.stringify(whole.choices[0]));

  const limited = await openai.chat.completions.create({
    model: 'ssepp-demo', messages, stream: true, max_tokens: 5, stream_options: { include_usage: true },
  });
  let limitedText = '';
  let limitedFinish = null;
  let usage = null;
  for await (const chunk of limited) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      limitedText += choice.delta?.content ?? '';
      limitedFinish = choice.finish_reason ?? limitedFinish;
    }
  }
  t.check('openai with max_tokens 5: five tokens, finish_reason "length"',
    limitedText === TEXT.split(' ').slice(0, 5).join(' ') && limitedFinish === 'length',
    `${JSON.stringify(limitedText)}, ${limitedFinish}`);
  t.check('openai: the usage chunk counts 5 completion tokens', usage?.completion_tokens === 5,
    JSON.stringify(usage));

  let authError = null;
  try {
    const wrong = new OpenAI({ apiKey: 'sk-wrong', baseURL: `${base}v1`, maxRetries: 0 });
    await wrong.chat.completions.create({ model: 'ssepp-demo', messages, stream: true });
  } catch (e) {
    authError = e;
  }
  t.check('openai: a wrong key raises AuthenticationError (401)',
    authError instanceof OpenAI.AuthenticationError && authError.status === 401,
    authError ? `${authError.constructor.name} ${authError.status}: ${authError.message}` : 'no error');
  const bad = await fetch(endpoint, {
    method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` }, body: 'not json',
  });
  const badBody = await bad.json().catch(() => null);
  t.check('a body that is not JSON: 400 with an OpenAI error object',
    bad.status === 400 && typeof badBody?.error?.message === 'string', `${bad.status} ${JSON.stringify(badBody)}`);

  // --- an aborted request --------------------------------------------------------
  const aborted = await openai.chat.completions.create({ model: 'ssepp-demo', messages, stream: true });
  let seen = 0;
  for await (const chunk of aborted) {
    if (chunk.choices[0]?.delta?.content) ++seen;
    if (seen === 3) break;  // leaving the loop aborts the request
  }
  const abortedAt = Date.now();
  const freed = await waitFor('the aborted stream to be freed', 2000,
    async () => ((await feedsOpen(base)) === 0 ? Date.now() - abortedAt : null), 10).catch(() => null);
  t.log(freed === null ? 'the aborted stream was not freed within 2 s' : `the aborted stream was freed ${freed} ms after the abort`);
  t.check('an aborted request frees the server\'s stream at once (within 500 ms)', freed !== null && freed <= 500,
    `freed after ${freed} ms`);
  const stopped = await waitFor('the server to log the stop', 2000, () => {
    const line = server.output().split('\n').find((l) => /client left after \d+ tokens/.test(l));
    return line ?? null;
  }).catch(() => null);
  const stoppedAfter = Number(stopped?.match(/after (\d+) tokens/)?.[1] ?? NaN);
  t.check('the server stopped generating early', stoppedAfter < WORDS, stopped ?? 'no log line');
  await sleep(100);
  const after = await run(options.llmClient, ['--url', endpoint, '--api-key', API_KEY, 'Again']);
  t.check('the server still answers after the abort', after.code === 0 && after.stdout === `${TEXT}\n`,
    `status ${after.code}`);
  t.check('no stream is left open at the end', (await feedsOpen(base)) === 0);
});
