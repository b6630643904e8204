// Logs as Kubernetes components write them (klog), so an operator's existing pipeline parses them:
// klog text by default, klog's JSON schema with --logging-format=json, verbosity by -v.
//
//   text: I1203 09:31:32.123456       1 service-lb-controller:0] "service synced" service="default/web" result="ensured"
//   json: {"ts":1764754292123.456,"logger":"service-lb-controller","msg":"service synced","v":0,"service":"default/web","result":"ensured"}
//
// Levels mean what they mean upstream: error and warn always print (E/W; JSON error lines carry
// no "v", as zapr writes them); info is klog.Info (V(0)); v(2) is steady-state changes; debug is
// V(4); trace is V(5); Kubernetes and Oxide request traces are V(6). The same keys appear in both
// formats; a key given twice (a child logger's binding and the call's fields) is written once,
// the call's value winning, so strict JSON parsers never see a duplicate key.
//
// klog's header has `file:line`; a bundled program has no useful source lines, so the header
// names the logger instead (`<name>:0`): the controller's canonical name for controller loggers,
// else the name given to named() or "ccm". JSON carries the same name under "logger" (zap's
// name key). Secrets never reach a line: values under token-like keys are replaced, and every
// registered secret string (the Oxide token) is scrubbed from the finished line. No value makes
// a line unbounded: the message and every string value are cut to 4096 characters (util/quote.ts,
// length noted), after secrets are scrubbed from them, so a cut never leaves a token's prefix.
import { cap } from './util/quote.ts';

export type LogFields = Readonly<Record<string, unknown>>;
export type LoggingFormat = 'text' | 'json';
export const LOGGING_FORMATS: readonly LoggingFormat[] = ['text', 'json'];

export interface LogFn {
  (fields: LogFields, msg: string): void;
  (msg: string): void;
}

/** One verbosity level of a logger, as klog's `V(n)`. */
export interface VerboseLogger {
  readonly enabled: boolean;
  readonly info: LogFn;
}

export interface Logger {
  /** Always written; severity E. */
  readonly error: LogFn;
  /** Always written; severity W (JSON "v":0, as klog writes warnings through logr). */
  readonly warn: LogFn;
  /** klog.Info: V(0). */
  readonly info: LogFn;
  /** V(4): debugging detail. */
  readonly debug: LogFn;
  /** V(5): steps leading to errors and warnings. */
  readonly trace: LogFn;
  /** klog's V(level). */
  v(level: number): VerboseLogger;
  /** A logger adding fields to every line; a `controller` field also names it. */
  child(fields: LogFields): Logger;
  /** A logger with this name in the klog header and the JSON "logger" key. */
  named(name: string): Logger;
}

/** Well-known levels (klog conventions, sig-instrumentation logging guidelines). */
export const V = { always: 0, steadyState: 2, debug: 4, trace: 5, requests: 6 } as const;

export interface LoggerOptions {
  /** -v. Default 0. */
  verbosity?: number;
  /** --logging-format. Default text. */
  format?: LoggingFormat;
  /** Where everything goes (klog and component-base write everything to stderr). */
  errorStream?: NodeJS.WritableStream;
  /**
   * --log-{text,json}-split-stream: info (and warning) lines go here instead, errors stay on
   * errorStream.
   */
  infoStream?: NodeJS.WritableStream;
  /** Strings to scrub from every line (the Oxide token). */
  secrets?: readonly string[];
  /** Header pid; tests pin it. Default process.pid. */
  pid?: number;
  /** Wall clock in ms with sub-ms precision; tests pin it. */
  now?: () => number;
}

const REDACTED = '[REDACTED]';
/** Characters of one string in a line (the message, or a field's value at any depth). */
export const LOG_VALUE_LIMIT = 4096;
/** Keys whose values are never written, at any depth. */
const SECRET_KEYS = /^(token|oxideToken|oxide-token|authorization|password|secret|bearerToken)$/i;
/** Keys the line itself uses; a field with one of these names is written with a trailing `_`. */
const RESERVED_KEYS = new Set(['ts', 'v', 'msg', 'logger', 'caller']);
const ROOT_NAME = 'ccm';

type Severity = 'E' | 'W' | 'I';

class Sink {
  readonly verbosity: number;
  private readonly format: LoggingFormat;
  private readonly errorStream: NodeJS.WritableStream;
  private readonly infoStream: NodeJS.WritableStream;
  private readonly secrets: readonly string[];
  private readonly pid: string;
  private readonly now: () => number;

  constructor(options: LoggerOptions) {
    this.verbosity = options.verbosity ?? 0;
    this.format = options.format ?? 'text';
    this.errorStream = options.errorStream ?? process.stderr;
    this.infoStream = options.infoStream ?? this.errorStream;
    this.secrets = (options.secrets ?? []).filter((s) => s.length >= 4);
    // klog pads the thread id to 7 columns.
    this.pid = String(options.pid ?? process.pid).padStart(7, ' ');
    this.now = options.now ?? ((): number => performance.timeOrigin + performance.now());
  }

  write(severity: Severity, level: number, name: string, msg: string, fields: LogFields): void {
    const ms = this.now();
    const bound = (text: string): string => cap(this.scrub(text), LOG_VALUE_LIMIT);
    let line =
      this.format === 'json'
        ? jsonLine(ms, severity, level, name, bound(msg), fields, bound)
        : textLine(ms, severity, this.pid, name, bound(msg), fields, bound);
    line = this.scrub(line);
    // JSON.stringify leaves these unescaped, but line splitters (Python's, some shippers') break
    // lines at them; \uXXXX is valid in both formats' quoted strings.
    line = line.replace(
      /[\u0085\u2028\u2029]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
    (severity === 'E' ? this.errorStream : this.infoStream).write(line + '\n');
  }

  private scrub(text: string): string {
    for (const secret of this.secrets) {
      if (text.includes(secret)) text = text.split(secret).join(REDACTED);
    }
    return text;
  }
}

class KlogLogger implements Logger {
  private readonly sink: Sink;
  private readonly name: string;
  private readonly bindings: LogFields;

  constructor(sink: Sink, name: string, bindings: LogFields) {
    this.sink = sink;
    this.name = name;
    this.bindings = bindings;
  }

  readonly error: LogFn = (a: LogFields | string, b?: string): void => this.emit('E', 0, a, b);
  readonly warn: LogFn = (a: LogFields | string, b?: string): void => this.emit('W', 0, a, b);
  readonly info: LogFn = (a: LogFields | string, b?: string): void => this.emit('I', 0, a, b);
  readonly debug: LogFn = (a: LogFields | string, b?: string): void =>
    this.emit('I', V.debug, a, b);
  readonly trace: LogFn = (a: LogFields | string, b?: string): void =>
    this.emit('I', V.trace, a, b);

  v(level: number): VerboseLogger {
    const enabled = level <= this.sink.verbosity;
    return {
      enabled,
      info: (a: LogFields | string, b?: string): void => this.emit('I', level, a, b),
    };
  }

  child(fields: LogFields): Logger {
    const controller = fields['controller'];
    const name = typeof controller === 'string' && controller !== '' ? controller : this.name;
    return new KlogLogger(this.sink, name, { ...this.bindings, ...fields });
  }

  named(name: string): Logger {
    return new KlogLogger(this.sink, name, this.bindings);
  }

  private emit(severity: Severity, level: number, a: LogFields | string, b?: string): void {
    if (level > this.sink.verbosity) return;
    const [fields, msg] = typeof a === 'string' ? [{}, a] : [a, b ?? ''];
    this.sink.write(severity, level, this.name, msg, { ...this.bindings, ...fields });
  }
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return new KlogLogger(new Sink(options), ROOT_NAME, {});
}

/** A logger that drops everything; for tests that do not look at logs. */
export const silentLogger: Logger = createLogger({ verbosity: -1 });

// ---- request traces (klog's round-tripper lines) ------------------------------------------------

let processLog: Logger | undefined;

/**
 * Sets the program's root logger (cli.ts, once the format is known): request traces go to it,
 * and main.ts reports a failed shutdown or a crash through it, so those are klog lines too.
 */
export function setProcessLogger(log: Logger | undefined): void {
  processLog = log;
}

/** The root logger, when the program got far enough to create one. */
export function processLogger(): Logger | undefined {
  return processLog;
}

export interface RequestTrace {
  /** kube-client or oxide-client. */
  client: string;
  method: string;
  host: string;
  /** Path and query; never headers (the token travels in a header). */
  path: string;
  /** HTTP status, 0 when no response came. */
  status: number;
  milliseconds: number;
  operation?: string;
  err?: string;
}

/** One V(6) line per request, as client-go's round trippers log at -v=6. */
export function traceRequest(trace: RequestTrace): void {
  const log = processLog;
  if (!log?.v(V.requests).enabled) return;
  const { client, ...fields } = trace;
  log
    .named(client)
    .v(V.requests)
    .info({ ...fields, milliseconds: Math.round(trace.milliseconds * 1000) / 1000 }, 'request');
}

// ---- formatting --------------------------------------------------------------------------------

function jsonLine(
  ms: number,
  severity: Severity,
  level: number,
  name: string,
  msg: string,
  fields: LogFields,
  bound: (text: string) => string,
): string {
  // Header keys first, as zap writes them; "v" only on non-error lines, as zapr does.
  const out: Record<string, unknown> = { ts: Math.round(ms * 1000) / 1000, logger: name, msg };
  if (severity !== 'E') out['v'] = level;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    out[RESERVED_KEYS.has(key) ? `${key}_` : key] = plain(key, value, 0, bound);
  }
  return JSON.stringify(out);
}

function textLine(
  ms: number,
  severity: Severity,
  pid: string,
  name: string,
  msg: string,
  fields: LogFields,
  bound: (text: string) => string,
): string {
  const d = new Date(Math.floor(ms));
  const micros = Math.floor((ms % 1000) * 1000);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  const header =
    `${severity}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())} ` +
    `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.` +
    `${String(micros).padStart(6, '0')} ${pid} ${name}:0] `;
  let line = header + JSON.stringify(msg);
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const k = RESERVED_KEYS.has(key) ? `${key}_` : key;
    line += ` ${k}=${textValue(plain(key, value, 0, bound))}`;
  }
  return line;
}

/** klog text values: numbers and booleans bare, strings quoted, anything else as JSON. */
function textValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value) ?? 'null';
}

/** A JSON-safe copy with secrets redacted, strings bounded and errors as their message. */
function plain(
  key: string,
  value: unknown,
  depth: number,
  bound: (text: string) => string,
): unknown {
  if (SECRET_KEYS.test(key)) return REDACTED;
  if (typeof value === 'string') return bound(value);
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return bound(value.message);
  if (value instanceof Date) return value.toISOString();
  // Functions and symbols: their description, never their source.
  if (typeof value === 'function') return `[function ${value.name}]`;
  if (typeof value === 'symbol') return value.toString();
  if (value === undefined) return null;
  if (depth >= 8) return '[…]';
  if (Array.isArray(value)) return value.map((v: unknown) => plain('', v, depth + 1, bound));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v !== undefined) out[k] = plain(k, v, depth + 1, bound);
  }
  return out;
}
