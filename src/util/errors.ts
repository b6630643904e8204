// An error as one line with everything that caused it. fetch (undici) throws `TypeError: fetch
// failed` and keeps the reason (ECONNREFUSED, a certificate the chain does not verify, a name that
// does not resolve) in `cause`, so a message alone says nothing an operator can act on.

const MAX_DEPTH = 8;

/** `fetch failed: connect ECONNREFUSED 127.0.0.1:6443`: each message, with its code if not in it. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < MAX_DEPTH && current !== undefined && current !== null; depth++) {
    parts.push(describeOne(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  // An error that repeats its cause's message (undici's RequestAbortedError and the like).
  return parts.filter((p, i) => p !== '' && p !== parts[i - 1]).join(': ');
}

function describeOne(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // Node's happy-eyeballs connect: one error per address tried (IPv6 and IPv4 of localhost).
  if (err instanceof AggregateError && err.errors.length > 0) {
    const each = err.errors.map((e: unknown) => describeOne(e));
    return [...new Set(each)].join('; ');
  }
  const code = (err as NodeJS.ErrnoException).code;
  const message = err.message;
  if (code === undefined || message.includes(String(code))) return message;
  return message === '' ? String(code) : `${message} (${code})`;
}
