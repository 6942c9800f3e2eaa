/**
 * Terminal renderings of the daemon's state, part of app's facade: `palisade status`
 * (src/cli) and the demo's `status` command (src/lab) print the same text.
 */
import type { DaemonStatus } from './daemon.ts';

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function formatStatus(st: DaemonStatus): string {
  const lines = [`cluster ${st.cluster}  node ${st.node}  pid ${st.pid}  workers ${st.workers}`];
  for (const s of st.services) {
    const flags = [s.panic ? 'PANIC: health ignored' : '', s.quorumLost ? 'QUORUM LOST' : ''].filter((x) => x !== '').join(', ');
    lines.push('', `service ${s.name}  listen ${s.listen.join(', ')}  scheduler ${s.scheduler}  requests ${s.requests}${flags ? `  [${flags}]` : ''}`);
    lines.push(`  ${pad('backend', 30)}${pad('state', 8)}${pad('weight', 8)}${pad('active', 8)}${pad('inactive', 10)}${pad('requests', 10)}${pad('failures', 10)}check`);
    for (const b of s.backends) {
      const label = b.name === b.id ? b.id : `${b.name} ${b.id}`;
      const name = b.backup ? `${label} (backup)` : label;
      const weight = b.effectiveWeight === b.weight ? String(b.weight) : `${Math.round(b.effectiveWeight * 10) / 10}/${b.weight}`;
      const check = b.check === undefined ? '' : `${b.check.type}${b.check.last ? `: ${b.check.last}` : ''}`;
      lines.push(`  ${pad(name, 30)}${pad(b.status, 8)}${pad(weight, 8)}${pad(String(b.active ?? '-'), 8)}${pad(String(b.inactive ?? '-'), 10)}${pad(String(b.requests), 10)}${pad(String(b.failures), 10)}${check}`);
    }
  }
  if (st.vrrp.length > 0) {
    lines.push('', `  ${pad('vrrp instance', 16)}${pad('state', 8)}${pad('vrid', 6)}${pad('priority', 10)}${pad('master', 18)}${pad('sent', 8)}${pad('received', 10)}dropped`);
    for (const v of st.vrrp) {
      const dropped = Object.entries(v.dropped).map(([k, n]) => `${k} ${n}`).join(', ') || '0';
      const prio = v.effectivePriority === v.priority ? String(v.priority) : `${v.effectivePriority}/${v.priority}`;
      const flags = [v.splitBrains > 0 ? `SPLIT BRAIN x${v.splitBrains}` : '', v.faults.length > 0 ? `faults: ${v.faults.join(', ')}` : ''].filter((x) => x !== '').join('  ');
      lines.push(`  ${pad(v.instance, 16)}${pad(v.state, 8)}${pad(String(v.vrid), 6)}${pad(prio, 10)}${pad(v.master ?? '-', 18)}${pad(String(v.sent), 8)}${pad(String(v.received), 10)}${dropped}${flags ? `  ${flags}` : ''}`);
    }
  }
  return lines.join('\n');
}
