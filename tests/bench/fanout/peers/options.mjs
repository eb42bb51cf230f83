// Command line shared by the Node peers of the fan-out benchmark:
//   --port N (0: a free one), --heartbeat-ms N (0: none)
// Each peer prints "NAME: listening on http://127.0.0.1:PORT/" once
// listening, like ssepp's hub_server, so run.sh starts them all alike.
export function parseOptions(name, argv = process.argv.slice(2)) {
  const options = { port: 0, heartbeatMs: 15000 };
  for (let i = 0; i < argv.length; i += 2) {
    const value = Number(argv[i + 1]);
    if (argv[i] === '--port' && Number.isInteger(value)) options.port = value;
    else if (argv[i] === '--heartbeat-ms' && Number.isInteger(value)) options.heartbeatMs = value;
    else {
      console.error(`${name}: unknown option or bad value: ${argv[i]} ${argv[i + 1] ?? ''}`);
      console.error(`usage: node ${name}.mjs [--port N] [--heartbeat-ms N]`);
      process.exit(2);
    }
  }
  return options;
}

// The channel named by /PREFIX/{channel}, or null.
export function channelOf(url, prefix) {
  if (!url.startsWith(prefix)) return null;
  const rest = url.slice(prefix.length).split('?')[0];
  return rest.length > 0 && !rest.includes('/') ? decodeURIComponent(rest) : null;
}

export function listen(server, name, port) {
  server.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => {
    console.log(`${name}: listening on http://127.0.0.1:${server.address().port}/`);
  });
  const stop = () => process.exit(0);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
