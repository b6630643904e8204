// Parsers a log pipeline would apply to our output: the klog text header, and strict JSON that
// rejects duplicate keys (JSON.parse silently keeps the last one; Go's and many shippers'
// strict decoders reject the line).

/** klog's header: severity, mmdd hh:mm:ss.uuuuuu, thread id, source:line, `]`. */
export const KLOG_HEADER =
  /^([IWEF])(\d{2})(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{6}) +(\d+) ([^ :\]]+):(\d+)\] (.*)$/;

export interface KlogTextLine {
  severity: 'I' | 'W' | 'E' | 'F';
  source: string;
  msg: string;
  fields: Record<string, unknown>;
}

/** One text line: header, quoted message, then key=value pairs (values quoted strings, bare numbers/booleans, or JSON). */
export function parseKlogText(line: string): KlogTextLine {
  const m = KLOG_HEADER.exec(line);
  if (!m) throw new Error(`not a klog line: ${line}`);
  const rest = m[11] ?? '';
  const reader = new JsonReader(rest);
  const msg = reader.value();
  if (typeof msg !== 'string') throw new Error(`klog message is not a quoted string: ${line}`);
  const fields: Record<string, unknown> = {};
  while (!reader.done()) {
    reader.expect(' ');
    const key = reader.bareKey();
    if (Object.hasOwn(fields, key)) throw new Error(`duplicate key ${key}: ${line}`);
    reader.expect('=');
    fields[key] = reader.value();
  }
  return { severity: m[1] as KlogTextLine['severity'], source: m[9] ?? '', msg, fields };
}

/** JSON.parse that throws on a duplicate object key, at any depth, and on trailing text. */
export function parseJsonStrict(text: string): unknown {
  const reader = new JsonReader(text);
  const v = reader.value();
  if (!reader.done()) throw new Error(`trailing text after JSON value: ${text}`);
  return v;
}

class JsonReader {
  private i = 0;
  private readonly s: string;

  constructor(s: string) {
    this.s = s;
  }

  done(): boolean {
    return this.i >= this.s.length;
  }

  expect(c: string): void {
    if (this.s[this.i] !== c) throw new Error(`expected ${c} at ${this.i} in ${this.s}`);
    this.i++;
  }

  bareKey(): string {
    const m = /^[A-Za-z0-9_.-]+/.exec(this.s.slice(this.i));
    if (!m) throw new Error(`expected a key at ${this.i} in ${this.s}`);
    this.i += m[0].length;
    return m[0];
  }

  value(): unknown {
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(this.s.slice(this.i));
    if (!m) throw new Error(`unexpected ${c ?? 'end'} at ${this.i} in ${this.s}`);
    this.i += m[0].length;
    return JSON.parse(m[0]) as unknown;
  }

  private string(): string {
    const start = this.i;
    this.i++;
    while (this.i < this.s.length && this.s[this.i] !== '"') {
      if (this.s[this.i] === '\\') this.i++;
      this.i++;
    }
    this.expect('"');
    return JSON.parse(this.s.slice(start, this.i)) as string;
  }

  private object(): Record<string, unknown> {
    this.expect('{');
    const out: Record<string, unknown> = {};
    if (this.s[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      const key = this.string();
      if (Object.hasOwn(out, key)) throw new Error(`duplicate key ${JSON.stringify(key)}`);
      this.expect(':');
      out[key] = this.value();
      if (this.s[this.i] === '}') {
        this.i++;
        return out;
      }
      this.expect(',');
    }
  }

  private array(): unknown[] {
    this.expect('[');
    const out: unknown[] = [];
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      if (this.s[this.i] === ']') {
        this.i++;
        return out;
      }
      this.expect(',');
    }
  }
}

/**
 * Checks every line of a process's output in the given format; returns the parsed lines. Throws
 * naming the first line that a klog pipeline could not read.
 */
export function parseLogOutput(
  text: string,
  format: 'text' | 'json',
): { msg: string; fields: Record<string, unknown>; error: boolean }[] {
  const lines = text.split('\n').filter((l) => l !== '');
  return lines.map((line) => {
    if (format === 'text') {
      const l = parseKlogText(line);
      return { msg: l.msg, fields: l.fields, error: l.severity === 'E' };
    }
    const obj = parseJsonStrict(line);
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
      throw new Error(`not a JSON object: ${line}`);
    const rec = obj as Record<string, unknown>;
    if (typeof rec['ts'] !== 'number' || typeof rec['msg'] !== 'string')
      throw new Error(`JSON line without numeric ts and string msg: ${line}`);
    const { ts: _ts, msg, v, logger: _logger, ...fields } = rec;
    return { msg: msg as string, fields, error: v === undefined };
  });
}
