/**
 * Structural diffs of JSON values, for the live stream: the server sends the whole
 * snapshot once, then only what changed; the page applies each patch without
 * copying what did not change, so the components of unchanged services and checks
 * keep their objects and skip their render. Pure code, shared by the server and the
 * page bundle (no Node imports here).
 */

/** A path of object keys and array indexes from the root. */
export type PatchPath = (string | number)[];
/**
 * `[path, value]` sets the value at path; `[path]` deletes that key; `[path, { k: v, … }, 1]`
 * sets several keys of the object at path (one op instead of one per key: under traffic
 * most changes are a backend's counters, side by side).
 */
export type PatchOp = [path: PatchPath, value: unknown] | [path: PatchPath] | [path: PatchPath, values: Record<string, unknown>, merge: 1];

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null;

/**
 * The operations that turn `a` into `b`, both JSON-like (plain objects, arrays,
 * strings, numbers, booleans, null). Keys whose value is `undefined` count as absent,
 * as JSON.stringify treats them. Arrays are compared index by index when their
 * lengths are equal and replaced whole otherwise.
 */
export function diff(a: unknown, b: unknown): PatchOp[] {
  const out: PatchOp[] = [];
  walk(a, b, [], out);
  return out;
}

function walk(a: unknown, b: unknown, path: PatchPath, out: PatchOp[]): void {
  if (Object.is(a, b)) return;
  if (!isObject(a) || !isObject(b) || Array.isArray(a) !== Array.isArray(b)) {
    out.push([path.slice(), b]);
    return;
  }
  if (Array.isArray(a)) {
    const bb = b as unknown as unknown[];
    if (a.length !== bb.length) {
      out.push([path.slice(), b]);
      return;
    }
    for (let i = 0; i < a.length; i++) {
      path.push(i);
      walk(a[i], bb[i], path, out);
      path.pop();
    }
    return;
  }
  const first = out.length;
  for (const k in b) {
    const bv = b[k];
    if (bv === undefined) continue;
    path.push(k);
    if (a[k] === undefined) out.push([path.slice(), bv]);
    else walk(a[k], bv, path, out);
    path.pop();
  }
  // Several keys of this object set directly: one merge op.
  if (out.length - first >= 2 && out.slice(first).every((op) => op.length === 2 && op[0].length === path.length + 1)) {
    const values: Record<string, unknown> = {};
    for (const op of out.splice(first)) values[op[0][path.length] as string] = op[1];
    out.push([path.slice(), values, 1]);
  }
  for (const k in a) {
    if (a[k] !== undefined && b[k] === undefined) out.push([[...path, k]]);
  }
}

/**
 * `root` with the operations applied. `root` itself is not changed: the objects and
 * arrays on the paths of the operations are copied (once per call), everything else
 * is shared with `root`.
 */
export function applyPatch<T>(root: T, ops: readonly PatchOp[]): T {
  const fresh = new WeakSet<object>();
  const copy = (v: unknown): Obj | unknown[] => {
    if (isObject(v) && fresh.has(v)) return v;
    const c = Array.isArray(v) ? v.slice() : { ...(v as Obj) };
    fresh.add(c);
    return c;
  };
  let out: unknown = root;
  for (const op of ops) {
    const path = op[0];
    if (op.length === 3) {
      // Merge: copy the objects down to the target itself, then set its keys.
      out = copy(out);
      let node = out as Obj;
      for (const k of path) {
        const child = node[k];
        if (!isObject(child)) throw new Error(`patch path ${JSON.stringify(path)} does not exist`);
        const c = copy(child) as Obj;
        node[k] = c;
        node = c;
      }
      Object.assign(node, op[1]);
      continue;
    }
    if (path.length === 0) {
      out = op.length === 1 ? undefined : op[1];
      continue;
    }
    out = copy(out);
    let node = out as Obj;
    for (let i = 0; i < path.length - 1; i++) {
      const k = path[i]!;
      const child = node[k];
      if (!isObject(child)) throw new Error(`patch path ${JSON.stringify(path)} does not exist`);
      const c = copy(child) as Obj;
      node[k] = c;
      node = c;
    }
    const last = path.at(-1)!;
    if (op.length === 1) delete node[last];
    else node[last] = op[1];
  }
  return out as T;
}

/** Check ordering of the dashboard: problems first (CRITICAL/DOWN, UNREACHABLE, WARNING, UNKNOWN), then the oldest change, then the name. */
export const CHECK_ORDER: Readonly<Record<string, number>> = { CRITICAL: 0, DOWN: 0, UNREACHABLE: 1, WARNING: 2, UNKNOWN: 3 };

export function compareChecks(a: { state: string; lastStateChange: number; object: string }, b: { state: string; lastStateChange: number; object: string }): number {
  return (CHECK_ORDER[a.state] ?? 9) - (CHECK_ORDER[b.state] ?? 9) || a.lastStateChange - b.lastStateChange || (a.object < b.object ? -1 : a.object > b.object ? 1 : 0);
}
