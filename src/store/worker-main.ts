/**
 * The history store's thread: node:sqlite is synchronous, so the store runs here and
 * the monitor's event loop (which may also carry a proxy) never waits for a commit
 * or a query. Messages are StoreRequest; answers StoreAnswer (store/client.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage } from '../core/errors.ts';
import { HistoryStore, type StoreOptions } from './history.ts';
import type { StoreAnswer, StoreRequest } from './client.ts';

const port = parentPort!;
const reply = (m: StoreAnswer) => port.postMessage(m);
const opts = workerData as Omit<StoreOptions, 'now' | 'onError'>;
const store = new HistoryStore({ ...opts, onError: (err) => reply({ type: 'error', error: errorMessage(err) }) });

port.on('message', (m: StoreRequest) => {
  try {
    switch (m.type) {
      case 'record':
        store.record(m.object, m.result);
        return;
      case 'event':
        store.event(m.event);
        return;
      case 'audit':
        store.audit(m.entry);
        return;
      case 'labels':
        reply({ type: 'answer', id: m.id, value: store.labels(m.object) });
        return;
      case 'view':
        reply({ type: 'answer', id: m.id, value: store.view(m.object, m.label, m.view, m.now) });
        return;
      case 'events':
        reply({ type: 'answer', id: m.id, value: store.events(m.from, m.to, m.limit) });
        return;
      case 'flush':
        reply({ type: 'answer', id: m.id, value: store.flush() });
        return;
      case 'close':
        store.flush();
        store.close();
        reply({ type: 'answer', id: m.id, value: true });
        port.close();
        return;
    }
  } catch (err) {
    if ('id' in m) reply({ type: 'answer', id: m.id, error: errorMessage(err) });
    else reply({ type: 'error', error: errorMessage(err) });
  }
});
