/**
 * A demo web server: says which server answered and how many times this client
 * (by its address as the balancer forwards it) has visited it. Started by
 * `palisade demo` as its own process, so that it can be stopped with `kill`.
 *
 *   node src/lab/demo-web.ts NAME PORT
 */
import { createServer } from 'node:http';

const [name = 'web', portText = '0'] = process.argv.slice(2);
const visits = new Map<string, number>();
const MAX_CLIENTS = 10_000;
const colors: Record<string, string> = { web1: '#2b6cb0', web2: '#2f855a', web3: '#c05621' };

const server = createServer((req, res) => {
  if (req.url === '/health') {
    // The balancer's health check: answered without counting a visit.
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '3' });
    res.end('ok\n');
    return;
  }
  const fwd = req.headers['x-forwarded-for'];
  const client = (typeof fwd === 'string' ? fwd.split(',').pop()!.trim() : undefined) ?? req.socket.remoteAddress ?? '?';
  const n = (visits.get(client) ?? 0) + 1;
  if (!visits.has(client) && visits.size >= MAX_CLIENTS) visits.delete(visits.keys().next().value!);
  visits.set(client, n);
  if (req.url?.startsWith('/api') || req.headers.accept === 'application/json') {
    const body = JSON.stringify({ server: name, client, visits: n, pid: process.pid });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  const color = colors[name] ?? '#4a5568';
  const body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${name}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; text-align: center; padding-top: 10vh">
<h1 style="font-size: 4em; color: ${color}; margin: 0">${name}</h1>
<p>answered your request (pid ${process.pid}).</p>
<p>You (${client}) have visited ${name} <b>${n}</b> time${n === 1 ? '' : 's'}.</p>
<p style="color:#718096">Reload to be balanced to the next server.</p></body></html>\n`;
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
});

server.listen(Number(portText), '127.0.0.1', () => {
  const a = server.address();
  process.send?.({ type: 'listening', port: typeof a === 'object' && a !== null ? a.port : 0 });
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
