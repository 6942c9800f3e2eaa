/**
 * Helpers for the health tests: loopback servers on port 0, closed after the test.
 * Test-only; nothing in the module imports this file.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import type { TestContext } from 'node:test';
import type { CheckTarget } from './types.ts';

/** Listens on 127.0.0.1:0, closes the server (and its connections) after the test; returns the port. */
export async function listen(t: TestContext, server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    server.close();
  });
  const addr = server.address();
  assert.ok(addr && typeof addr === 'object');
  return addr.port;
}

/** A port nothing listens on: bound, then released. */
export async function refusedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A check target on loopback. */
export function loopback(port: number): CheckTarget {
  return { id: `127.0.0.1:${port}`, host: '127.0.0.1', port, backendHost: '127.0.0.1', backendPort: port };
}
