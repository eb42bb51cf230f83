// Test vectors for the browser conformance test, written by hand from the
// WHATWG HTML standard, section "Server-sent events": "parse an event
// stream", "interpret an event stream" and "dispatch the event".
//
// Each vector is the exact bytes a server sends, cut into the chunks the test
// server writes with a pause between them (so the browser reads them
// separately), and what the spec says a browser must report:
//
//   name        unique, used in URLs and the report
//   spec        the rule it checks, in the spec's words where possible
//   chunks      Buffers written in order, `delayMs` apart (default 25 ms)
//   types       extra event types to listen for ("message" and the types of
//               the expected events are always listened for)
//   events      the MessageEvents the spec requires, in order:
//               { type, data, lastEventId }
//   lastEventId the EventSource's last event ID string once the stream ends
//               (default ""). The browser must reconnect with it as the
//               Last-Event-ID header, or with no such header when it is "".
//               Chromium strips leading and trailing spaces and tabs off the
//               value first, as an HTTP parser would anyway.
//   reconnects  false when the browser must not reconnect at all (default
//               true)
//
// Retry is checked only for not disturbing events: a browser shows it as
// nothing but a reconnection delay.

// b(...parts): the bytes of strings (as UTF-8), numbers (one byte each) and
// arrays of those, concatenated.
export function b(...parts) {
  const out = [];
  const add = (part) => {
    if (typeof part === 'string') out.push(Buffer.from(part, 'utf8'));
    else if (typeof part === 'number') out.push(Buffer.from([part]));
    else if (Buffer.isBuffer(part)) out.push(part);
    else if (Array.isArray(part)) part.forEach(add);
    else throw new TypeError(`b(): cannot turn ${typeof part} into bytes`);
  };
  parts.forEach(add);
  return Buffer.concat(out);
}

// One byte per chunk.
export function bytewise(buffer) {
  return [...buffer].map((byte) => Buffer.from([byte]));
}

// Fixed-size chunks, for the large vectors.
export function pieces(buffer, size) {
  const chunks = [];
  for (let i = 0; i < buffer.length; i += size) chunks.push(buffer.subarray(i, i + size));
  return chunks.length ? chunks : [buffer];
}

// An expected event.
export function m(data, { id = '', type = 'message' } = {}) {
  return { type, data, lastEventId: id };
}

const BOM = [0xef, 0xbb, 0xbf];
const FFFD = '\uFFFD';

const vectors = [
  // --- Byte order mark --------------------------------------------------
  {
    name: 'bom-whole',
    spec: 'a single leading U+FEFF BYTE ORDER MARK is ignored',
    chunks: [b(BOM, 'data: a\n\n')],
    events: [m('a')],
  },
  {
    name: 'bom-split-1-2',
    spec: 'the BOM is ignored even when its bytes arrive in separate reads (EF | BB BF)',
    chunks: [b(0xef), b(0xbb, 0xbf, 'data: a\n\n')],
    events: [m('a')],
  },
  {
    name: 'bom-split-2-1',
    spec: 'the BOM is ignored even when its bytes arrive in separate reads (EF BB | BF)',
    chunks: [b(0xef, 0xbb), b(0xbf), b('data: a\n\n')],
    events: [m('a')],
  },
  {
    name: 'bom-bytewise',
    spec: 'the BOM is ignored when every byte of the stream arrives alone',
    chunks: bytewise(b(BOM, 'data: a\n\n')),
    delayMs: 10,
    events: [m('a')],
  },
  {
    name: 'bom-double',
    spec: 'only one BOM is ignored: a second one is content, so the first field name is "\\uFEFFdata", an unknown field',
    chunks: [b(BOM, BOM, 'data: a\n\ndata: b\n\n')],
    events: [m('b')],
  },
  {
    name: 'bom-double-split',
    spec: 'only one BOM is ignored, also when the two arrive split (EF BB BF EF | BB BF)',
    chunks: [b(BOM, 0xef), b(0xbb, 0xbf, 'data: a\n\ndata: b\n\n')],
    events: [m('b')],
  },
  {
    name: 'bom-after-first-event',
    spec: 'a BOM that is not at the very start of the stream is content',
    chunks: [b('data: a\n\n'), b(BOM, 'data: b\n\ndata: c\n\n')],
    events: [m('a'), m('c')],
  },
  {
    name: 'bom-incomplete',
    spec: 'EF BB not followed by BF is no BOM: the UTF-8 decoder turns it into one U+FFFD, so the field name is "\\uFFFDdata"',
    chunks: [b(0xef, 0xbb), b('data: a\n\ndata: b\n\n')],
    events: [m('b')],
  },
  {
    name: 'bom-utf16le',
    spec: 'streams are always UTF-8: a UTF-16 BOM (FF FE) becomes two U+FFFD and makes the first field unknown',
    chunks: [b(0xff, 0xfe, 'data: a\n\ndata: b\n\n')],
    events: [m('b')],
  },

  // --- Line endings -----------------------------------------------------
  {
    name: 'eol-crlf',
    spec: 'a CRLF pair ends a line',
    chunks: [b('data: a\r\ndata: b\r\n\r\n')],
    events: [m('a\nb')],
  },
  {
    name: 'eol-cr',
    spec: 'a lone CR ends a line',
    chunks: [b('data: a\rdata: b\r\r')],
    events: [m('a\nb')],
  },
  {
    name: 'eol-mixed',
    spec: 'CRLF, LF and CR may be mixed in one stream',
    chunks: [b('data: a\rdata: b\ndata: c\r\n\rdata: d\n\r\n')],
    events: [m('a\nb\nc'), m('d')],
  },
  {
    name: 'eol-cr-then-lf-next-chunk',
    spec: 'a CR at the end of one chunk and an LF at the start of the next are one line end, not a line end and a blank line',
    chunks: [b('data: a\r'), b('\ndata: b\r'), b('\n\r'), b('\n')],
    events: [m('a\nb')],
  },
  {
    name: 'eol-cr-then-text-next-chunk',
    spec: 'a CR at the end of a chunk ends the line even when the next chunk does not start with LF',
    chunks: [b('data: a\r'), b('data: b\r'), b('\r')],
    events: [m('a\nb')],
  },
  {
    name: 'eol-cr-cr-lf-across-chunks',
    spec: 'CR | CR | LF: the first CR ends "data: a", the CR LF pair is one blank line, so one dispatch',
    chunks: [b('data: a\r'), b('\r'), b('\ndata: b\n\n')],
    events: [m('a'), m('b')],
  },
  {
    name: 'eol-crlf-bytewise',
    spec: 'CRLF line ends give the same events when every byte arrives alone',
    chunks: bytewise(b('id: 1\r\ndata: a\r\n\r\ndata: b\r\r')),
    delayMs: 5,
    events: [m('a', { id: '1' }), m('b', { id: '1' })],
    lastEventId: '1',
  },
  {
    name: 'eol-blank-lines-only',
    spec: 'blank lines with an empty data buffer dispatch nothing',
    chunks: [b('\n\r\n\r\r\n\ndata: a\n\n\n\r\n')],
    events: [m('a')],
  },

  // --- Fields -----------------------------------------------------------
  {
    name: 'comments',
    spec: 'a line starting with ":" is ignored, whatever follows',
    chunks: [b(': comment\n:\n:data: no\ndata: a\n: between\n\n')],
    events: [m('a')],
  },
  {
    name: 'comment-only-stream',
    spec: 'a stream of comments dispatches nothing',
    chunks: [b(':\n: keep-alive\n\n:x\r\n\r\n')],
    events: [],
  },
  {
    name: 'empty-stream',
    spec: 'an empty body dispatches nothing',
    chunks: [b()],
    events: [],
  },
  {
    name: 'field-without-colon',
    spec: 'a line without ":" is a field name with an empty value: "data" alone appends an empty line to the data buffer',
    chunks: [b('data\n\ndata\ndata\n\ndata:\n\n')],
    events: [m(''), m('\n'), m('')],
  },
  {
    name: 'data-leading-spaces',
    spec: 'exactly one space after the colon is removed, no more',
    chunks: [b('data:a\n\ndata: a\n\ndata:  a\n\ndata:   a\n\n')],
    events: [m('a'), m('a'), m(' a'), m('  a')],
  },
  {
    name: 'data-tab-kept',
    spec: 'only U+0020 SPACE is removed after the colon, not a tab',
    chunks: [b('data:\ta\n\n')],
    events: [m('\ta')],
  },
  {
    name: 'data-colons-in-value',
    spec: 'the field name ends at the first colon; later colons are part of the value',
    chunks: [b('data: a: b:c\n\ndata::d\n\n')],
    events: [m('a: b:c'), m(':d')],
  },
  {
    name: 'unknown-fields',
    spec: 'unknown field names are ignored; names are case-sensitive and spaces are part of them',
    chunks: [b('foo: bar\nData: x\nDATA: y\n data: z\ndata : w\ndata: a\n\n')],
    events: [m('a')],
  },
  {
    name: 'data-empty-lines',
    spec: 'every data field appends its value and one LF; only the last LF is removed at dispatch',
    chunks: [b('data:\ndata:\ndata\n\ndata: a\ndata:\n\n')],
    events: [m('\n\n'), m('a\n')],
  },
  {
    name: 'data-trailing-lf-once',
    spec: 'a single trailing LF is removed from the data buffer, and only one',
    chunks: [b('data: a\ndata:\ndata:\n\n')],
    events: [m('a\n\n')],
  },

  // --- Event type -------------------------------------------------------
  {
    name: 'event-type-reset-after-dispatch',
    spec: 'the event type buffer is reset after each dispatch; the default type is "message"',
    chunks: [b('event: foo\ndata: a\n\ndata: b\n\n')],
    events: [m('a', { type: 'foo' }), m('b')],
  },
  {
    name: 'event-type-reset-without-data',
    spec: 'a blank line with an empty data buffer also resets the event type buffer',
    chunks: [b('event: foo\n\ndata: b\n\n')],
    types: ['foo'],
    events: [m('b')],
  },
  {
    name: 'event-type-empty',
    spec: 'an empty event type means "message"',
    chunks: [b('event:\ndata: a\n\nevent: \ndata: b\n\n')],
    events: [m('a'), m('b')],
  },
  {
    name: 'event-type-last-wins',
    spec: 'a later event field replaces the event type buffer',
    chunks: [b('event: a\nevent: b\ndata: x\n\n')],
    types: ['a'],
    events: [m('x', { type: 'b' })],
  },
  {
    name: 'event-type-error',
    spec: 'any type is dispatched as a MessageEvent, even "error"',
    chunks: [b('event: error\ndata: x\n\n')],
    events: [m('x', { type: 'error' })],
  },
  {
    name: 'event-type-spaces',
    spec: 'one leading space is removed from the event type; a second one stays',
    chunks: [b('event:  foo\ndata: x\n\n')],
    types: ['foo'],
    events: [m('x', { type: ' foo' })],
  },

  // --- Last event ID ----------------------------------------------------
  {
    name: 'id-persists',
    spec: 'the last event ID buffer is kept across events until the server sets it again',
    chunks: [b('id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n')],
    events: [m('a', { id: '1' }), m('b', { id: '1' }), m('c', { id: '2' })],
    lastEventId: '2',
  },
  {
    name: 'id-after-data',
    spec: 'an id field anywhere in the event applies to that event',
    chunks: [b('data: a\nid: 5\n\n')],
    events: [m('a', { id: '5' })],
    lastEventId: '5',
  },
  {
    name: 'id-with-nul-ignored',
    spec: 'an id field whose value contains U+0000 NULL is ignored',
    chunks: [b('id: 1\ndata: a\n\nid: 2', 0, 'x\ndata: b\n\n')],
    events: [m('a', { id: '1' }), m('b', { id: '1' })],
    lastEventId: '1',
  },
  {
    name: 'id-empty-resets',
    spec: 'an id field with an empty value sets the last event ID buffer to the empty string',
    chunks: [b('id: 1\ndata: a\n\nid\ndata: b\n\n')],
    events: [m('a', { id: '1' }), m('b')],
    lastEventId: '',
  },
  {
    name: 'id-empty-with-colon-resets',
    spec: '"id:" with nothing after it resets the last event ID too; the browser then sends no Last-Event-ID',
    chunks: [b('id: 1\ndata: a\n\nid:\ndata: b\n\n')],
    events: [m('a', { id: '1' }), m('b')],
    lastEventId: '',
  },
  {
    name: 'id-committed-without-data',
    spec: 'a blank line sets the last event ID string even when the data buffer is empty and nothing is dispatched',
    chunks: [b('data: a\n\nid: 9\n\ndata: b\n\n')],
    events: [m('a'), m('b', { id: '9' })],
    lastEventId: '9',
  },
  {
    name: 'id-committed-without-data-at-end',
    spec: 'an id followed by a blank line and no data still becomes the reconnect Last-Event-ID (not visible in any event)',
    chunks: [b('data: a\n\nid: 9\n\n')],
    events: [m('a')],
    lastEventId: '9',
  },
  {
    name: 'id-in-unterminated-event',
    spec: 'at end of stream a pending event is discarded, and with it an id not yet committed by a blank line',
    chunks: [b('id: 1\ndata: a\n\nid: 2\ndata: b\n')],
    events: [m('a', { id: '1' })],
    lastEventId: '1',
  },
  {
    name: 'id-non-ascii',
    spec: 'the last event ID is any text; the browser sends it UTF-8 encoded',
    chunks: [b('id: é☃\ndata: a\n\n')],
    events: [m('a', { id: 'é☃' })],
    lastEventId: 'é☃',
  },
  {
    name: 'id-spaces-kept',
    spec: 'one space after the colon is removed from the id, a second stays part of it, and so do trailing spaces',
    chunks: [b('id:  x \ndata: a\n\n')],
    events: [m('a', { id: ' x ' })],
    lastEventId: ' x ',
  },
  {
    name: 'id-only-spaces',
    spec: 'an id of spaces is not empty: the event carries it',
    chunks: [b('id:   \ndata: a\n\n')],
    events: [m('a', { id: '  ' })],
    lastEventId: '  ',
  },
  {
    name: 'id-control-character',
    spec: 'an id may hold control characters other than NUL',
    chunks: [b('id: a', 1, 'b', 0x7f, '\ndata: a\n\n')],
    events: [m('a', { id: 'a\u0001b\u007f' })],
    lastEventId: 'a\u0001b\u007f',
    // Fetch allows these bytes in a header value, RFC 9110 does not:
    // Chromium refuses to build the request and closes the EventSource.
    reconnects: false,
  },
  {
    name: 'id-invalid-utf8',
    spec: 'an invalid byte in the id is decoded to U+FFFD like everywhere else',
    chunks: [b('id: a', 0xff, 'b\ndata: x\n\n')],
    events: [m('x', { id: `a${FFFD}b` })],
    lastEventId: `a${FFFD}b`,
  },

  // --- End of stream ----------------------------------------------------
  {
    name: 'unterminated-final-event',
    spec: 'once the end of the file is reached, any pending data is discarded',
    chunks: [b('data: a\n\ndata: b')],
    events: [m('a')],
  },
  {
    name: 'unterminated-final-event-after-eol',
    spec: 'a final event whose last line ended but which has no blank line is discarded too',
    chunks: [b('data: a\n\ndata: b\n')],
    events: [m('a')],
  },
  {
    name: 'unterminated-final-event-after-cr',
    spec: 'a stream ending in one CR ends the line, but not the event',
    chunks: [b('data: a\n\ndata: b\r')],
    events: [m('a')],
  },

  // --- Retry does not disturb events --------------------------------------
  {
    name: 'retry-fields-dispatch-nothing',
    spec: 'retry fields, valid or not, never dispatch an event or touch the data buffer',
    chunks: [b('retry: 3000\ndata: a\nretry: 1x\nretry\n\nretry: 2500\n\n')],
    events: [m('a')],
  },

  // --- UTF-8 decoding -----------------------------------------------------
  {
    name: 'utf8-valid-split-across-chunks',
    spec: 'a multi-byte character split across chunks decodes as one character',
    chunks: [b('data: ', 0xc3), b(0xa9, 0xf0, 0x9f), b(0x98), b(0x80, '\n\n')],
    events: [m('é😀')],
  },
  {
    name: 'utf8-lone-continuation',
    spec: 'each lone continuation byte becomes one U+FFFD',
    chunks: [b('data: a', 0x80, 'b', 0xbf, 0x80, '\n\n')],
    events: [m(`a${FFFD}b${FFFD}${FFFD}`)],
  },
  {
    name: 'utf8-truncated-sequences',
    spec: 'a truncated sequence (maximal subpart) becomes one U+FFFD',
    chunks: [b('data: ', 0xe2, 0x82, 'x', 0xf0, 0x9f, 0x98, 'y', 0xc3, '\n\n')],
    events: [m(`${FFFD}x${FFFD}y${FFFD}`)],
  },
  {
    name: 'utf8-truncated-at-chunk-end',
    spec: 'a sequence cut short by the line end is one U+FFFD even when the line end arrives in the next chunk',
    chunks: [b('data: ', 0xf0, 0x9f, 0x98), b('\n'), b('\n')],
    events: [m(FFFD)],
  },
  {
    name: 'utf8-split-then-truncated',
    spec: 'a valid sequence split across chunks, then a truncated one split across chunks',
    chunks: [b('data: ', 0xf0, 0x9f), b(0x98), b(0x80, 0xe2), b(0x82, '\n\n')],
    events: [m(`😀${FFFD}`)],
  },
  {
    name: 'utf8-overlong',
    spec: 'overlong forms: E0 80 80 and C0 AF give one U+FFFD per byte',
    chunks: [b('data: ', 0xe0, 0x80, 0x80, '|', 0xc0, 0xaf, '|', 0xc1, 0xbf, '\n\n')],
    events: [m(`${FFFD}${FFFD}${FFFD}|${FFFD}${FFFD}|${FFFD}${FFFD}`)],
  },
  {
    name: 'utf8-overlong-4-byte',
    spec: 'F0 80 80 80 (overlong) gives one U+FFFD per byte',
    chunks: [b('data: ', 0xf0, 0x80, 0x80, 0x80, '\n\n')],
    events: [m(FFFD.repeat(4))],
  },
  {
    name: 'utf8-surrogates',
    spec: 'encoded surrogates ED A0 80 and ED BF BF give one U+FFFD per byte',
    chunks: [b('data: ', 0xed, 0xa0, 0x80, '|', 0xed, 0xbf, 0xbf, '\n\n')],
    events: [m(`${FFFD.repeat(3)}|${FFFD.repeat(3)}`)],
  },
  {
    name: 'utf8-above-max',
    spec: 'F4 90 80 80 (above U+10FFFF), F5 and FF give one U+FFFD per byte',
    chunks: [b('data: ', 0xf4, 0x90, 0x80, 0x80, '|', 0xf5, 0x80, '|', 0xff, '\n\n')],
    events: [m(`${FFFD.repeat(4)}|${FFFD.repeat(2)}|${FFFD}`)],
  },
  {
    name: 'utf8-max-and-edges',
    spec: 'the extremes of valid UTF-8 decode unchanged: U+007F, U+0080, U+07FF, U+0800, U+FFFF, U+10000, U+10FFFF',
    chunks: [b('data: \u007f\u0080\u07ff\u0800\uffff\u{10000}\u{10ffff}\n\n')],
    events: [m('\u007f\u0080\u07ff\u0800\uffff\u{10000}\u{10ffff}')],
  },
  {
    name: 'utf8-invalid-in-field-name',
    spec: 'an invalid byte in a field name makes it an unknown field ("dat\\uFFFDa", "data\\uFFFD")',
    chunks: [b('dat', 0xff, 'a: x\ndata', 0xc3, ': y\ndata: z\n\n')],
    events: [m('z')],
  },
  {
    name: 'utf8-invalid-in-event-type',
    spec: 'an invalid byte in the event type becomes U+FFFD in the type',
    chunks: [b('event: ', 0xff, '\ndata: a\n\n')],
    events: [m('a', { type: FFFD })],
  },

  // --- Control characters -------------------------------------------------
  {
    name: 'nul-in-data',
    spec: 'U+0000 in data is kept',
    chunks: [b('data: a', 0, 'b', 0, '\n\n')],
    events: [m('a\u0000b\u0000')],
  },
  {
    name: 'nul-in-event-type',
    spec: 'U+0000 in the event type is kept (only id rejects NUL)',
    chunks: [b('event: a', 0, 'b\ndata: x\n\n')],
    events: [m('x', { type: 'a\u0000b' })],
  },
  {
    name: 'control-characters-in-data',
    spec: 'other control characters are data like any other',
    chunks: [b('data: ', 1, 8, 9, 0x0b, 0x0c, 0x1b, 0x7f, '\n\n')],
    events: [m('\u0001\u0008\u0009\u000b\u000c\u001b\u007f')],
  },
];

// --- Large vectors, built rather than written --------------------------------

{
  // ~1 MiB on one line, sent in 64 KiB writes.
  const payload = 'x'.repeat(1 << 20);
  const bytes = b('id: big\ndata: ', payload, '\n\ndata: after\n\n');
  vectors.push({
    name: 'long-line-1MiB',
    spec: 'a 1 MiB data line arriving in many reads is one event',
    chunks: pieces(bytes, 64 * 1024),
    delayMs: 2,
    events: [m(payload, { id: 'big' }), m('after', { id: 'big' })],
    lastEventId: 'big',
  });
}

{
  // 1000 data lines of 1000 bytes each: one event of about 1 MB.
  const line = 'y'.repeat(999);
  const lines = Array.from({ length: 1000 }, (_, i) => `${line}${i % 10}`);
  const bytes = b(lines.map((l) => `data: ${l}\r\n`).join(''), '\r\n');
  vectors.push({
    name: 'long-multiline-event',
    spec: 'a thousand data lines join with LF into one event',
    chunks: pieces(bytes, 40000),
    delayMs: 2,
    events: [m(lines.join('\n'))],
  });
}

{
  // Many small events with ids, in reads that cut them anywhere.
  const count = 2000;
  let text = '';
  const events = [];
  for (let i = 0; i < count; ++i) {
    const type = i % 3 === 0 ? 'tick' : 'message';
    text += `${type === 'tick' ? 'event: tick\n' : ''}id: ${i}\ndata: ${i}\n\n`;
    events.push(m(String(i), { id: String(i), type }));
  }
  vectors.push({
    name: 'many-small-events',
    spec: 'many events in reads of 997 bytes that cut lines anywhere',
    chunks: pieces(b(text), 997),
    delayMs: 1,
    events,
    lastEventId: String(count - 1),
  });
}

for (const v of vectors) {
  v.delayMs ??= 25;
  v.types ??= [];
  v.lastEventId ??= '';
  v.reconnects ??= true;
  v.bytes = Buffer.concat(v.chunks);
}

export default vectors;
