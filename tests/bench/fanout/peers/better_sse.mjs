// A Node SSE server on better-sse, used as its documentation shows: one
// session per subscriber (createSession), one channel per channel name
// (createChannel), channel.broadcast() per published event. Its defaults
// stand (JSON serialisation of the data, a generated id per event) except
// the keep-alive interval, set like the other servers' heartbeats.
//
//   GET  /events/{channel}    subscribe
//   POST /publish/{channel}   the body becomes one event's data
//
// usage: node better_sse.mjs [--port N] [--heartbeat-ms N]
import http from 'node:http';
import { createChannel, createSession } from 'better-sse';
import { channelOf, listen, parseOptions } from './options.mjs';

const options = parseOptions('better-sse');
const channels = new Map();  // name -> better-sse Channel

function channel(name) {
  let c = channels.get(name);
  if (!c) channels.set(name, (c = createChannel()));
  return c;
}

const server = http.createServer(async (req, res) => {
  const subscribeTo = req.method === 'GET' && channelOf(req.url, '/events/');
  if (subscribeTo) {
    const session = await createSession(req, res, {
      keepAlive: options.heartbeatMs > 0 ? options.heartbeatMs : null,
    });
    channel(subscribeTo).register(session);
    return;
  }
  const publishTo = req.method === 'POST' && channelOf(req.url, '/publish/');
  if (publishTo) {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      channel(publishTo).broadcast(body);
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok\n');
    });
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('GET /events/{channel} or POST /publish/{channel}\n');
});

listen(server, 'better-sse', options.port);
