/**
 * `tcp` check (keepalived TCP_CHECK, HAProxy `tcp-check connect/send/expect`):
 * connect; optionally send bytes; optionally read until the reply contains the
 * expected bytes (at most `TCP_MAX_READ`).
 */
import type { TcpHealthConfig } from '../config/health-schema.ts';
import { classifyError, connectProbe, settleOnce, timeoutResult, type Phase } from './net.ts';
import type { Check, CheckResult, CheckTarget } from './types.ts';

/** Most bytes read while waiting for `expect`: 64 KiB. */
export const TCP_MAX_READ = 64 * 1024;

export function createTcpCheck(cfg: Pick<TcpHealthConfig, 'send' | 'send_hex' | 'expect' | 'expect_hex'>): Check {
  const send = cfg.send !== undefined ? Buffer.from(cfg.send, 'utf8') : cfg.send_hex !== undefined ? Buffer.from(cfg.send_hex, 'hex') : undefined;
  const expect = cfg.expect !== undefined ? Buffer.from(cfg.expect, 'utf8') : cfg.expect_hex !== undefined ? Buffer.from(cfg.expect_hex, 'hex') : undefined;
  const expectText = cfg.expect !== undefined ? JSON.stringify(cfg.expect) : `0x${cfg.expect_hex ?? ''}`;

  return {
    name: 'tcp',
    run(target: CheckTarget, signal: AbortSignal): Promise<CheckResult> {
      return new Promise((resolve) => {
        let phase: Phase = 'connect';
        const { finish, onCleanup } = settleOnce(signal, resolve, () => timeoutResult(phase));
        const socket = connectProbe(target, finish, onCleanup);
        if (socket === undefined) return;
        socket.on('error', (err) => finish(classifyError(err, phase)));
        socket.once('connect', () => {
          phase = 'l7';
          if (send) socket.write(send);
          if (!expect) {
            if (!send) finish({ ok: true, status: 'L4_OK' });
            else socket.write(Buffer.alloc(0), () => finish({ ok: true, status: 'L4_OK' }));
            return;
          }
          let buf: Buffer = Buffer.alloc(0);
          socket.on('data', (chunk: Buffer) => {
            buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
            if (buf.includes(expect)) finish({ ok: true, status: 'L7_OK' });
            else if (buf.length >= TCP_MAX_READ) finish({ ok: false, status: 'L7_EXPECT', detail: `no ${expectText} in the first ${TCP_MAX_READ} bytes` });
          });
          socket.on('end', () => finish({ ok: false, status: 'L7_EXPECT', detail: `connection closed without ${expectText}` }));
        });
      });
    },
  };
}
