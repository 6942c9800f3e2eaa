import { pino, type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  /** Minimum level written; default `info`. */
  level?: LevelWithSilent;
  /** `json` (one event a line), `pretty`, or `auto`: pretty only on a TTY. Default `auto`. */
  format?: 'json' | 'pretty' | 'auto';
  /** Where JSON lines go; default standard output (file descriptor 1). */
  destination?: number | string;
  /** Write synchronously (tests, short-lived commands). Default false. */
  sync?: boolean;
}

/**
 * Structured logs, one JSON event a line. Every event carries `msg` and, for
 * anything that changed state, the fields a reader needs (`service`, `backend`, ...).
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? 'info';
  const dest = opts.destination ?? 1;
  const usePretty = opts.format === 'pretty' || (opts.format !== 'json' && dest === 1 && process.stdout.isTTY === true);
  const base = { base: { pid: process.pid }, level, timestamp: pino.stdTimeFunctions.isoTime };
  if (usePretty) {
    return pino(base, pretty({ colorize: true, sync: true, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' }));
  }
  return pino(base, pino.destination({ dest, sync: opts.sync ?? false, minLength: 0 }));
}

/** A logger that drops everything; for library use and tests that do not read logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
