/** Command-line flags (and their environment-variable equivalents) of bench/http.ts. */

export const WORKLOADS = ['small', '64k'] as const;
export type Workload = (typeof WORKLOADS)[number];
export const TARGETS = ['direct', 'nginx', 'haproxy', 'palisade'] as const;
export type Target = (typeof TARGETS)[number];

export interface Options {
  /** One wrk run, in seconds. */
  duration: number;
  rounds: number;
  /** Unmeasured wrk run per target and workload before round 1, in seconds; 0 = none. */
  warmup: number;
  connections: number;
  threads: number;
  workloads: Workload[];
  targets: Target[];
  proxyCpu: string;
  loadCpu: string;
  originCpu: string;
  /** Add X-Forwarded-For/-Proto/-Host in every proxy (Palisade does by default). */
  forwarded: boolean;
  /** Replaces the command that starts Palisade; see USAGE for its placeholders. */
  palisadeCmd: string | undefined;
  install: boolean;
  keepTmp: boolean;
  out: string | undefined;
  help: boolean;
}

export const USAGE = `Usage: node bench/http.ts [flags]

Measures direct origin, nginx, HAProxy and Palisade as HTTP reverse proxies with wrk,
interleaved over rounds, each proxy pinned to one core with one worker.

Flags (environment variable in brackets):
  --duration 10s        length of one measured wrk run [BENCH_DURATION]
  --rounds 3            rounds; each round runs every target once per workload [BENCH_ROUNDS]
  --warmup 2s           unmeasured run per target and workload before round 1; 0 = none [BENCH_WARMUP]
  --connections 50      wrk -c [BENCH_CONNECTIONS]
  --threads 1           wrk -t [BENCH_THREADS]
  --only small,64k      workloads to run: small, 64k (alias big) [BENCH_ONLY]
  --targets LIST        targets: direct,nginx,haproxy,palisade [BENCH_TARGETS]
  --proxy-cpu 0         cpu list for the proxy under test (taskset -c) [BENCH_PROXY_CPU]
  --load-cpu 1          cpu list for wrk [BENCH_LOAD_CPU]
  --origin-cpu 1        cpu list for the origin nginx [BENCH_ORIGIN_CPU]
  --no-forwarded        don't add X-Forwarded-* headers in the proxies [BENCH_FORWARDED=0]
  --palisade-cmd CMD    command that starts Palisade, run by /bin/sh (pinned like the other proxies);
                        {config} stands for the generated cluster file, {port} for the port to listen
                        on, {origin} for 127.0.0.1:<origin port>; without {config} or {port},
                        "-c {config}" is appended
                        (default: "<repo>/node_modules/.bin/node <repo>/src/cli/main.ts run") [BENCH_PALISADE_CMD]
  --no-install          never run apt-get; fail if nginx/haproxy/wrk are missing [BENCH_NO_INSTALL=1]
  --keep-tmp            keep the temporary directory (configs, logs) [BENCH_KEEP_TMP=1]
  --out FILE            JSON result file (default bench/results/http-<timestamp>.json) [BENCH_OUT]
  -h, --help            this text
`;

/** "10s", "500ms", "1m", "10" (seconds) → seconds. */
export function parseDuration(text: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new Error(`expected a duration such as 10s, 500ms or 1m, got ${JSON.stringify(text)}`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return unit === 'ms' ? n / 1000 : unit === 'm' ? n * 60 : n;
}

function positiveInt(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what}: expected a positive integer, got ${JSON.stringify(text)}`);
  return n;
}

function cpuList(text: string, what: string): string {
  if (!/^[0-9]+([-,][0-9]+)*$/.test(text)) throw new Error(`${what}: expected a cpu list such as 0 or 0-1 or 0,2, got ${JSON.stringify(text)}`);
  return text;
}

function list<T extends string>(text: string, allowed: readonly T[], aliases: Record<string, T>, what: string): T[] {
  const out: T[] = [];
  for (const raw of text.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '')) {
    const v = (aliases[raw] ?? raw) as T;
    if (!allowed.includes(v)) throw new Error(`${what}: unknown ${JSON.stringify(raw)}; expected some of ${allowed.join(', ')}`);
    if (!out.includes(v)) out.push(v);
  }
  if (out.length === 0) throw new Error(`${what}: empty list`);
  // Keep the canonical order so that tables always read the same way.
  return allowed.filter((a) => out.includes(a));
}

const truthy = (v: string | undefined): boolean => v !== undefined && /^(1|true|yes|on)$/i.test(v);

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv): Options {
  const o: Options = {
    duration: parseDuration(env.BENCH_DURATION ?? '10s'),
    rounds: positiveInt(env.BENCH_ROUNDS ?? '3', 'BENCH_ROUNDS'),
    warmup: parseDuration(env.BENCH_WARMUP ?? '2s'),
    connections: positiveInt(env.BENCH_CONNECTIONS ?? '50', 'BENCH_CONNECTIONS'),
    threads: positiveInt(env.BENCH_THREADS ?? '1', 'BENCH_THREADS'),
    workloads: list(env.BENCH_ONLY ?? 'small,64k', WORKLOADS, { big: '64k', large: '64k' }, 'BENCH_ONLY'),
    targets: list(env.BENCH_TARGETS ?? TARGETS.join(','), TARGETS, {}, 'BENCH_TARGETS'),
    proxyCpu: cpuList(env.BENCH_PROXY_CPU ?? '0', 'BENCH_PROXY_CPU'),
    loadCpu: cpuList(env.BENCH_LOAD_CPU ?? '1', 'BENCH_LOAD_CPU'),
    originCpu: cpuList(env.BENCH_ORIGIN_CPU ?? '1', 'BENCH_ORIGIN_CPU'),
    forwarded: env.BENCH_FORWARDED === undefined ? true : truthy(env.BENCH_FORWARDED),
    palisadeCmd: env.BENCH_PALISADE_CMD || undefined,
    install: !truthy(env.BENCH_NO_INSTALL),
    keepTmp: truthy(env.BENCH_KEEP_TMP),
    out: env.BENCH_OUT || undefined,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (arg.startsWith('--') && eq > 0) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--duration': o.duration = parseDuration(value()); break;
      case '--rounds': o.rounds = positiveInt(value(), flag); break;
      case '--warmup': o.warmup = parseDuration(value()); break;
      case '--connections': case '-c': o.connections = positiveInt(value(), flag); break;
      case '--threads': case '-t': o.threads = positiveInt(value(), flag); break;
      case '--only': case '--workloads': o.workloads = list(value(), WORKLOADS, { big: '64k', large: '64k' }, flag); break;
      case '--targets': o.targets = list(value(), TARGETS, {}, flag); break;
      case '--proxy-cpu': o.proxyCpu = cpuList(value(), flag); break;
      case '--load-cpu': o.loadCpu = cpuList(value(), flag); break;
      case '--origin-cpu': o.originCpu = cpuList(value(), flag); break;
      case '--forwarded': o.forwarded = true; break;
      case '--no-forwarded': o.forwarded = false; break;
      case '--palisade-cmd': o.palisadeCmd = value(); break;
      case '--install': o.install = true; break;
      case '--no-install': o.install = false; break;
      case '--keep-tmp': o.keepTmp = true; break;
      case '--out': o.out = value(); break;
      case '-h': case '--help': o.help = true; break;
      default: throw new Error(`unknown argument ${JSON.stringify(arg)} (see --help)`);
    }
  }
  if (o.duration < 1) throw new Error('--duration: at least 1s (wrk counts whole seconds)');
  return o;
}
