/** Builds the `Check` for a check configuration: one implementation per file. */
import type { HealthConfig } from '../config/health-schema.ts';
import { createAgentCheck } from './agent.ts';
import { createExecCheck } from './exec.ts';
import { createHttpCheck } from './http.ts';
import { createTcpCheck } from './tcp.ts';
import type { Check } from './types.ts';

export function createCheck(cfg: HealthConfig): Check {
  switch (cfg.type) {
    case 'http':
    case 'https':
      return createHttpCheck(cfg);
    case 'tcp':
      return createTcpCheck(cfg);
    case 'exec':
      return createExecCheck(cfg);
    case 'agent':
      return createAgentCheck(cfg);
  }
}
