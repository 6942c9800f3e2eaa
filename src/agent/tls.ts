/**
 * TLS material for the agent transport: the node's certificate and key (and the CA
 * that signed its peers') from the cluster file, or a self-signed pair made with
 * Debian's `openssl` at start (argument array, no shell; in a private temporary
 * directory removed at once). A self-signed certificate is not verified by the peer:
 * the link is encrypted and the token never travels in clear, but an active man in
 * the middle is not stopped — docs/agent.md says so.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AgentConfig } from '../config/agent-schema.ts';
import { PalisadeError, errorMessage } from '../core/errors.ts';

export interface AgentTls {
  cert: string;
  key: string;
  /** Peers' certificates are verified against this; undefined = not verified. */
  ca: string | undefined;
  selfSigned: boolean;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((ok, fail) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, _out, stderr) => (err ? fail(new Error(`${cmd} failed: ${stderr.trim() || err.message}`)) : ok()));
  });
}

/** A fresh self-signed certificate for `address` (as subjectAltName), valid 825 days. */
export async function selfSigned(name: string, address: string): Promise<{ cert: string; key: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-agent-'));
  try {
    const san = isIP(address) !== 0 ? `IP:${address}` : `DNS:${address}`;
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '825', '-subj', `/CN=palisade-agent-${name}`, '-addext', `subjectAltName=${san}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
    const [cert, key] = await Promise.all([readFile(join(dir, 'cert.pem'), 'utf8'), readFile(join(dir, 'key.pem'), 'utf8')]);
    return { cert, key };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The node's TLS material: files named in `agent.tls` (relative to `baseDir`), or a self-signed pair. */
export async function loadAgentTls(cfg: AgentConfig, baseDir: string, node: string, address: string): Promise<AgentTls> {
  if (cfg.tls === undefined) return { ...(await selfSigned(node, address)), ca: undefined, selfSigned: true };
  const read = async (what: string, f: string) => {
    try {
      return await readFile(resolve(baseDir, f), 'utf8');
    } catch (err) {
      throw new PalisadeError('PALISADE_AGENT', 'internal', `agent.tls.${what}: cannot read ${resolve(baseDir, f)}: ${errorMessage(err)}`, { cause: err });
    }
  };
  const [cert, key, ca] = await Promise.all([read('cert', cfg.tls.cert), read('key', cfg.tls.key), cfg.tls.ca === undefined ? undefined : read('ca', cfg.tls.ca)]);
  return { cert, key, ca, selfSigned: false };
}

/** The token: `agent.token`, or the first line of `agent.token_file` (relative to `baseDir`). */
export async function loadAgentToken(cfg: AgentConfig, baseDir: string): Promise<string> {
  if (cfg.token !== undefined) return cfg.token;
  const path = resolve(baseDir, cfg.token_file!);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PalisadeError('PALISADE_AGENT', 'internal', `agent.token_file: cannot read ${path}: ${errorMessage(err)}`, { cause: err });
  }
  const token = text.split('\n')[0]!.trim();
  if (token.length < 16) throw new PalisadeError('PALISADE_AGENT', 'internal', `agent.token_file: ${path}: expected a token of at least 16 characters on its first line`);
  return token;
}
