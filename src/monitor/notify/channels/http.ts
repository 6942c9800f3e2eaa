/** One HTTP request with a time limit; a non-2xx answer is a failure. */
export async function httpSend(url: string, init: { method: string; headers: Record<string, string>; body?: string | undefined }, timeoutMs: number, signal: AbortSignal): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { method: init.method, headers: init.headers, body: init.body, signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]), redirect: 'error' });
  } catch (err) {
    // undici says only "fetch failed"; the reason (ECONNREFUSED, a TLS error …) is in its cause.
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined;
    throw new Error(`${new URL(url).host}: ${err instanceof Error ? err.message : String(err)}${cause === undefined ? '' : ` (${cause})`}`, { cause: err });
  }
  // Read (and drop) a bounded amount of the answer so the connection can be reused.
  const text = (await res.text()).slice(0, 200);
  if (res.status < 200 || res.status > 299) throw new Error(`HTTP ${res.status} from ${new URL(url).host}${text ? `: ${text}` : ''}`);
}
