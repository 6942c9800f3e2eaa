#!/usr/bin/env node
/**
 * Builds the VRRP raw-socket addon (native/vrrp_socket.c → build/Release/vrrp_socket.node).
 * npm runs it as the `install` script (`npm ci`, `npm install`, `npm rebuild`), under
 * whatever node npm itself runs on: the addon uses N-API only, so a build made with
 * one Node release loads in every later one.
 *
 * It never fails the install: without a compiler (python3, make, g++) it prints one
 * warning line and exits 0. Palisade then reports that the raw transport cannot load
 * when a cluster file asks for it; `transport: udp` works without the addon.
 *
 *   PALISADE_SKIP_NATIVE=1   do not build (prints why)
 *
 * Plain .mjs, not .ts: npm runs install scripts with the system node, which may be
 * too old to strip types.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const output = join(root, 'build', 'Release', 'vrrp_socket.node');
const log = join(root, 'build', 'vrrp_socket-build.log');

function warn(reason) {
  process.stderr.write(
    `palisade: WARNING: the VRRP raw-socket addon was not built (${reason}); ` +
      'the raw VRRP transport is unavailable (`transport: udp` still works). ' +
      'To build it: install python3, make and g++, then run `node scripts/build-native.mjs`.\n',
  );
  process.exit(0);
}

if (process.env.PALISADE_SKIP_NATIVE === '1') warn('PALISADE_SKIP_NATIVE=1');
if (process.platform !== 'linux') warn(`the addon is Linux-only, this is ${process.platform}`);

/** The directory of `name` on PATH, symlinks resolved, or undefined. */
function onPath(name) {
  for (const d of (process.env.PATH ?? '').split(':')) {
    if (d !== '' && existsSync(join(d, name))) return dirname(realpathSync(join(d, name)));
  }
  return undefined;
}

/** npm's bin directory → the node-gyp that npm bundles. */
function bundledNodeGyp(npmBin) {
  return join(npmBin, '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
}

/**
 * node-gyp, as [command, ...args]: the one npm passes to install scripts, else the one
 * bundled with the npm that runs us (or with the npm on PATH, when run by hand), else
 * node-gyp from PATH.
 */
function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  // .../npm/bin/npm-cli.js → .../npm/node_modules/node-gyp/bin/node-gyp.js
  if (process.env.npm_execpath) candidates.push(bundledNodeGyp(dirname(process.env.npm_execpath)));
  const npm = onPath('npm');
  if (npm !== undefined) candidates.push(bundledNodeGyp(npm));
  for (const c of candidates) if (existsSync(c)) return c.endsWith('.js') ? [process.execPath, c] : [c];
  return ['node-gyp'];
}

/**
 * Where the Node headers are, so that node-gyp needs no download: an explicit
 * `nodedir` (npm config or environment), else the headers shipped with the pinned
 * `node` devDependency, else the system's (Debian/NodeSource put them in
 * /usr/include/node). Undefined lets node-gyp fetch them.
 */
function findNodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const pinned = join(root, 'node_modules', 'node', 'node_modules');
  if (existsSync(pinned)) {
    for (const d of readdirSync(pinned)) {
      if (d.startsWith('node-') && existsSync(join(pinned, d, 'include', 'node', 'node_api.h'))) return join(pinned, d);
    }
  }
  for (const prefix of ['/usr', '/usr/local']) {
    if (existsSync(join(prefix, 'include', 'node', 'node_api.h')) && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) {
      return prefix;
    }
  }
  return undefined;
}

const [command, ...prefix] = findNodeGyp();
const nodedir = findNodeDir();
const args = [...prefix, 'rebuild', '--release', '--jobs=2'];
if (nodedir !== undefined) args.push(`--nodedir=${nodedir}`);

const started = Date.now();
const r = spawnSync(command, args, { cwd: root, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 300_000 });
const text = `$ ${[command, ...args].join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n${r.error.message}\n` : ''}`;
try {
  mkdirSync(dirname(log), { recursive: true });
  writeFileSync(log, text);
} catch {
  // the log is a courtesy; the warning below says what failed anyway
}

if (r.error || r.status !== 0 || !existsSync(output)) {
  const firstError =
    r.error?.code === 'ENOENT'
      ? 'node-gyp not found'
      : (text.split('\n').find((l) => /error|not found|No such file|could not find/i.test(l) && !l.startsWith('$')) ?? `node-gyp exited with ${r.status}`).trim();
  warn(`${firstError.slice(0, 200)}; full log in ${log}`);
}
process.stdout.write(`palisade: built ${output} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
