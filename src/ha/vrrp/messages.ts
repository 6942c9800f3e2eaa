/** Messages between the daemon and its VRRP child process. */
import type { VrrpConfig } from '../../config/ha-schema.ts';
import type { InstanceStatus } from './instance.ts';

export type ToVrrp =
  | { type: 'start'; vrrp: VrrpConfig; node: string; nodeAddresses: Record<string, string>; logLevel: string; logFormat: 'json' | 'pretty' | 'auto' }
  | { type: 'status'; id: number }
  /** A reloaded cluster file: keep unchanged instances, restart changed ones. */
  | { type: 'reload'; id: number; vrrp: VrrpConfig; node: string; nodeAddresses: Record<string, string> }
  /** A tracker outside the child (the local proxy's health) turned a fault on or off. */
  | { type: 'fault'; instance: string; on: boolean; reason: string }
  /** The daemon's verdict on its proxy, for `proxy` trackers. */
  | { type: 'proxy'; ok: boolean }
  | { type: 'stop' };

export type FromVrrp =
  | { type: 'started'; instances: string[] }
  | { type: 'failed'; error: string }
  /** This node now holds (or gave up) these virtual addresses. */
  | { type: 'vips'; instance: string; held: boolean; addresses: string[] }
  | { type: 'transition'; instance: string; from: string; to: string; priority: number }
  | { type: 'splitBrain'; instance: string; peer: string; peerPriority: number; localPriority: number }
  | { type: 'status'; id: number; instances: InstanceStatus[] }
  | { type: 'reloaded'; id: number; kept: string[]; reprioritized: string[]; restarted: string[]; started: string[]; stopped: string[]; error?: string }
  | { type: 'stopped' }
  /** One JSON log line of the child, for the daemon's logger. */
  | { type: 'log'; line: string };
