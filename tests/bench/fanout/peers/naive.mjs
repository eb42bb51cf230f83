// The naive Node SSE server, as a first version is usually written: every
// subscriber's response object is kept in an array per channel, and each
// published event is res.write()n to each of them. No queue bound, no
// coalescing, no history: Node buffers whatever a slow client does not read.
//
//   GET  /events/{channel}    subscribe
//   POST /publish/{channel}   the body becomes one event's data; answers its id
//
// usage: node naive.mjs [--port N] [--heartbeat-ms N]
import http from 'node:http';
import { channelOf, listen, parseOptions } from './options.mjs';

const options = parseOptions('naive');
const channels = new Map();  // name -> array of ServerResponse
let lastId = 0;

const server = http.createServer((req, res) => {
  const subscribeTo = req.method === 'GET' && channelOf(req.url, '/events/');
  if (subscribeTo) {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
    });
    res.flushHeaders();
    let list = channels.get(subscribeTo);
    if (!list) channels.set(subscribeTo, (list = []));
    list.push(res);
    res.on('close', () => {
      const i = list.indexOf(res);
      if (i >= 0) list.splice(i, 1);
    });
    return;
  }
  const publishTo = req.method === 'POST' && channelOf(req.url, '/publish/');
  if (publishTo) {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const id = ++lastId;
      const frame = `id: ${id}\ndata: ${body.split('\n').join('\ndata: ')}\n\n`;
      for (const subscriber of channels.get(publishTo) ?? []) subscriber.write(frame);
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(`${id}\n`);
    });
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('GET /events/{channel} or POST /publish/{channel}\n');
});

if (options.heartbeatMs > 0) {
  setInterval(() => {
    for (const list of channels.values()) for (const res of list) res.write(':\n\n');
  }, options.heartbeatMs);
}
listen(server, 'naive', options.port);
