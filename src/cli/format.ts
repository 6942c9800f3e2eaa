/** Terminal renderings of the daemon's state. */
import type { DaemonStatus } from '../app/daemon.ts';

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function formatStatus(st: DaemonStatus): string {
  const lines = [`cluster ${st.cluster}  node ${st.node}  pid ${st.pid}  workers ${st.workers}`];
  for (const s of st.services) {
    lines.push('', `service ${s.name}  listen ${s.listen.join(', ')}  scheduler ${s.scheduler}  requests ${s.requests}`);
    lines.push(`  ${pad('backend', 30)}${pad('status', 8)}${pad('weight', 8)}${pad('active', 8)}${pad('inactive', 10)}${pad('requests', 10)}failures`);
    for (const b of s.backends) {
      const label = b.name === b.id ? b.id : `${b.name} ${b.id}`;
      const name = b.backup ? `${label} (backup)` : label;
      lines.push(`  ${pad(name, 30)}${pad(b.status, 8)}${pad(String(b.weight), 8)}${pad(String(b.active), 8)}${pad(String(b.inactive), 10)}${pad(String(b.requests), 10)}${b.failures}`);
    }
  }
  return lines.join('\n');
}
