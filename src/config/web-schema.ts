/**
 * The cluster file's `web:` section: the dashboard and admin API (docs/dashboard.md).
 *
 * Where it listens, with which certificate, who may log in (users with scrypt
 * password hashes, written inline or in a users file), API tokens, and how long a
 * session lasts. Every default lives here. A listen address that is not loopback is
 * refused unless `tls` is set: passwords and session cookies never cross a network
 * in clear text.
 *
 * This file must not import `schema.ts` (which imports it).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { cidrList } from './limits-schema.ts';
import { durationAtLeast } from './units.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}$/;
const NAME_MSG = 'expected a user name of letters, digits, "_", ".", "@" or "-" (at most 63)';

/** `scrypt$N$r$p$salt$hash` as printed by `palisade passwd` (salt and hash in base64url). */
export const PASSWORD_HASH = /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9_-]{16,}\$[A-Za-z0-9_-]{32,}$/;
const HASH_MSG = 'expected a password hash as printed by `palisade passwd` (scrypt$N$r$p$salt$hash); never a clear-text password';

export const WEB_ROLES = ['admin', 'readonly'] as const;
export type WebRole = (typeof WEB_ROLES)[number];

const userSchema = z.strictObject({
  /** `admin` may act (drain, acknowledge, downtime, re-check); `readonly` only looks. Default readonly. */
  role: z.enum(WEB_ROLES, { error: 'expected a role: admin or readonly' }).default('readonly'),
  /** scrypt hash from `palisade passwd`. */
  password_hash: z.string({ error: HASH_MSG }).regex(PASSWORD_HASH, HASH_MSG),
});

export type WebUserConfig = z.output<typeof userSchema>;

/** The users file (`web.users_file`): the same map as `web.users`, as a YAML document of its own. */
export const usersFileSchema = z.record(z.string().regex(NAME, NAME_MSG), userSchema);

const tokenSchema = z.strictObject({
  /** Who the token acts as, in the audit log. */
  name: z.string().regex(NAME, NAME_MSG),
  role: z.enum(WEB_ROLES, { error: 'expected a role: admin or readonly' }).default('readonly'),
  /** SHA-256 of the token, hex (`palisade passwd --token` prints a token and its hash). */
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected the hex SHA-256 of the token (64 hex digits), as printed by `palisade passwd --token`'),
});

export type WebTokenConfig = z.output<typeof tokenSchema>;

/** `host:port` for the dashboard; host must be an IP address or `localhost`. */
const listenSchema = z.union([z.string(), z.number()], { error: 'expected a listen address such as 127.0.0.1:8404' }).transform((v, ctx) => {
  const text = String(v);
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text) ?? (/^\d{1,5}$/.test(text) ? [text, undefined, '127.0.0.1', text] : null);
  const host = m?.[1] ?? m?.[2] ?? '';
  const port = Number(m?.[3]);
  if (m === null || !(port >= 0 && port <= 65535) || (host !== 'localhost' && isIP(host) === 0)) {
    ctx.addIssue({ code: 'custom', message: `expected a listen address such as 127.0.0.1:8404 or [::1]:8404, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return { host, port };
});

/** Whether `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

export const webSchema = z
  .strictObject({
    /** Address and port of the dashboard and API. Default 127.0.0.1:8404. A non-loopback address needs `tls`. */
    listen: listenSchema.default({ host: '127.0.0.1', port: 8404 }),
    /** The node that serves the dashboard and runs the monitor checks. Default: the first node declared. */
    node: z.string().min(1).optional(),
    /** HTTPS: PEM certificate chain and private key files (relative to the cluster file). Absent = plain HTTP, loopback only. */
    tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
    /** Users by name. Default none (then only `users_file` and `tokens` let anyone in). */
    users: z.record(z.string().regex(NAME, NAME_MSG), userSchema).default({}),
    /** A YAML file with more users in the same form as `users` (relative to the cluster file); re-read at reload. */
    users_file: z.string().min(1).optional(),
    /** API tokens (`Authorization: Bearer TOKEN`), stored as SHA-256 hashes. Default none. */
    tokens: z.array(tokenSchema).default([]),
    /** How long a login lasts without activity, in ms. Default 8h. */
    session_lifetime: durationAtLeast(60_000).default(8 * 3_600_000),
    /** Failed logins allowed per client address per `login_window`; then 429 until the window passes. Default 5. */
    login_attempts: z.number().int().min(1).max(1000).default(5),
    /** The window of `login_attempts`, in ms. Default 1m. */
    login_window: durationAtLeast(1_000).default(60_000),
    /** Serve `/metrics` without a login (for a Prometheus on a trusted network). Default false: an API token (`Authorization: Bearer`) or a session is required. */
    metrics_public: z.boolean().default(false),
    /** Client addresses or ranges that may reach the dashboard, API and /metrics; empty = every client not denied. Default []. */
    allow: cidrList.default([]),
    /** Client addresses or ranges refused with 403 before anything else; `deny` wins over `allow`. Default []. */
    deny: cidrList.default([]),
  })
  .superRefine((w, ctx) => {
    if (w.tls === undefined && !isLoopbackHost(w.listen.host)) {
      ctx.addIssue({ code: 'custom', path: ['listen'], message: `${w.listen.host} is not a loopback address: the dashboard listens beyond this machine only with tls (cert and key) set` });
    }
    const names = new Set<string>();
    w.tokens.forEach((t, i) => {
      if (names.has(t.name)) ctx.addIssue({ code: 'custom', path: ['tokens', i, 'name'], message: `token name ${t.name} is used twice` });
      names.add(t.name);
    });
  });

export type WebConfig = z.output<typeof webSchema>;
