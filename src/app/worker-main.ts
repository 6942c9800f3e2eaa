/**
 * A proxy worker process: applies the config the primary sends, answers status
 * requests, and stops gracefully when told. Started by `WorkerPool` only.
 */
import cluster from 'node:cluster';
import { createLogger, type Logger } from '../core/logger.ts';
import { errorMessage } from '../core/errors.ts';
import { HttpProxy } from '../proxy/http/server.ts';
import { applyPush } from './health.ts';
import type { PrimaryMessage, WorkerMessage } from './messages.ts';

if (!cluster.isWorker) throw new Error('worker-main.ts runs only as a cluster worker');

let log: Logger | undefined;
let proxy: HttpProxy | undefined;
const send = (m: WorkerMessage) => {
  if (process.connected) process.send?.(m);
};

process.on('message', (m: PrimaryMessage) => {
  switch (m.type) {
    case 'apply': {
      log ??= createLogger({ level: m.config.log.level, format: m.config.log.format }).child({ worker: cluster.worker?.id });
      if (proxy === undefined) {
        proxy = new HttpProxy({ log, baseDir: m.baseDir, onOutcome: (service, backend, outcome) => send({ type: 'outcome', service, backend, outcome }) });
        proxy.setVipHosts(m.vipHosts);
      }
      proxy.apply(m.config, m.services, m.baseDir).then(
        () => send({ type: 'applied', id: m.id, ok: true }),
        (err: unknown) => send({ type: 'applied', id: m.id, ok: false, error: errorMessage(err) }),
      );
      return;
    }
    case 'status':
      send({ type: 'status', id: m.id, services: proxy?.snapshot() ?? [] });
      return;
    case 'vips':
      void proxy?.setVipsHeld(m.addresses, m.held);
      return;
    case 'health':
      if (proxy !== undefined) for (const p of m.pushes) applyPush(proxy, p);
      return;
    case 'stop':
      void (proxy?.close(m.graceMs) ?? Promise.resolve()).finally(() => {
        log?.flush();
        process.exit(0);
      });
      return;
  }
});

process.on('uncaughtException', (err) => {
  log?.fatal({ err: err.stack ?? err.message }, 'worker crashed');
  log?.flush();
  process.exit(70);
});
