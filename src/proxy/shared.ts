/**
 * What the HTTP proxy and the layer-4 proxy share: listening, the sorry server as a
 * backend, persistence-table reuse on reload, and the HealthSink calls that route a
 * pushed decision to a service's backend.
 */
import type { Server } from 'node:net';
import type { PersistenceConfig } from '../config/scheduler-schema.ts';
import type { BackendConfig, ListenAddress } from '../config/schema.ts';
import { splitHostPort } from '../config/schema.ts';
import type { BackendState } from '../health/index.ts';

/** Listens on `address` (backlog 4096, shared with workers); rejects with the listen error. */
export function listenOn(server: Server, address: ListenAddress): Promise<void> {
  return new Promise((resolveListen, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen({ host: address.host, port: address.port, backlog: 4096, exclusive: false }, () => {
      server.off('error', onError);
      resolveListen();
    });
  });
}

/** The port actually bound (port 0 in tests), else the configured one. */
export function boundPortOf(server: Server, address: ListenAddress): number {
  const a = server.address();
  return a !== null && typeof a === 'object' ? a.port : address.port;
}

/** `sorry_server: host:port` as a backend of its own (validated by the schema). */
export function sorryBackend(address: string): BackendConfig {
  const hp = splitHostPort(address)!;
  const id = hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
  return { address, host: hp.host, port: hp.port!, id, name: `sorry ${id}`, weight: 1, backup: false, down: false, max_conns: 0, health: undefined, max_fails: undefined, fail_timeout: undefined };
}

/** A reload may keep the persistence table (and its entries) when its settings did not change. */
export function samePersistence(a: PersistenceConfig, b: PersistenceConfig): boolean {
  return a.timeout === b.timeout && a.granularity === b.granularity && a.granularity_v6 === b.granularity_v6 && a.max_entries === b.max_entries;
}

/** A service as health decisions reach it. */
export interface HealthTarget<B> {
  backend(id: string): B | undefined;
  setState(b: B, state: BackendState): void;
  setWeight(b: B, weight: number): void;
  setPanic(panic: boolean): void;
  quorumLost: boolean;
}

/**
 * The HealthSink half of a proxy: decisions pushed by name. Unknown services or
 * backends are ignored (a reload raced the push).
 */
export class HealthRouter<B, S extends HealthTarget<B>> {
  protected readonly services = new Map<string, S>();

  setBackendState(service: string, backend: string, state: BackendState): void {
    const s = this.services.get(service);
    const b = s?.backend(backend);
    if (s !== undefined && b !== undefined) s.setState(b, state);
  }

  /** An effective weight (slow start, agent or exec weight). */
  setBackendWeight(service: string, backend: string, weight: number): void {
    const s = this.services.get(service);
    const b = s?.backend(backend);
    if (s !== undefined && b !== undefined) s.setWeight(b, weight);
  }

  setPanic(service: string, panic: boolean): void {
    this.services.get(service)?.setPanic(panic);
  }

  setQuorum(service: string, up: boolean): void {
    const s = this.services.get(service);
    if (s !== undefined) s.quorumLost = !up;
  }
}

/**
 * The end of a listener's drain: resolves once `connections` is empty (the listener
 * calls the function passed to `onIdle` when its last connection closes), or after
 * `graceMs`, cutting what is still open.
 */
export function awaitDrained(connections: ReadonlySet<{ destroy(): void }>, graceMs: number, onIdle: (idle: () => void) => void): Promise<void> {
  if (connections.size === 0) return Promise.resolve();
  return new Promise<void>((done) => {
    const timer = setTimeout(() => {
      for (const c of connections) c.destroy();
      done();
    }, graceMs);
    timer.unref();
    onIdle(() => {
      clearTimeout(timer);
      done();
    });
  });
}

/** The VIP was given up: drains (5 s) and forgets the listeners on those addresses. */
export async function drainListenersOn<L extends { address: ListenAddress; drain(graceMs: number): Promise<void> }>(listeners: Map<string, L>, hosts: readonly string[]): Promise<void> {
  const drains: Promise<void>[] = [];
  for (const [key, l] of listeners) {
    if (hosts.includes(l.address.host)) {
      listeners.delete(key);
      drains.push(l.drain(5_000));
    }
  }
  await Promise.all(drains);
}
