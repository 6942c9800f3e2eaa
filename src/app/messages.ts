/** Messages between the primary and its proxy workers (over the cluster IPC channel). */
import type { ClusterConfig } from '../config/schema.ts';
import type { ServiceSnapshot } from '../proxy/http/server.ts';
import type { Outcome } from '../proxy/http/service.ts';
import type { HealthPush } from './health.ts';

export type PrimaryMessage =
  | { type: 'apply'; id: number; config: ClusterConfig; services: string[]; baseDir: string; vipHosts: string[] }
  | { type: 'vips'; addresses: string[]; held: boolean }
  | { type: 'status'; id: number }
  | { type: 'health'; pushes: HealthPush[] }
  | { type: 'stop'; graceMs: number };

export type WorkerMessage =
  | { type: 'applied'; id: number; ok: boolean; error?: string }
  | { type: 'status'; id: number; services: ServiceSnapshot[] }
  | { type: 'outcome'; service: string; backend: string; outcome: Outcome };
