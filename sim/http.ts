// What a handler sees and returns. Handlers work in the SDK's camelCase types; the server turns
// replies into snake_case JSON (wire.ts) and request bodies into camelCase before they get here.
import type { SimDb } from './db.ts';
import { badInput } from './errors.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface Ctx {
  db: SimDb;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
}

export interface Reply {
  status: number;
  body?: unknown;
}

export interface Route {
  method: Method;
  /** Path template exactly as in the OpenAPI document, e.g. /v1/instances/{instance}. */
  path: string;
  operationId: string;
  /** False only for endpoints the real API serves without credentials (ping). */
  auth: boolean;
  handle(ctx: Ctx): Reply;
}

/** A reply whose body type is checked against the SDK type named at the call site. */
export function reply<T>(status: number, body: T): Reply {
  return { status, body };
}

export function noContent(): Reply {
  return { status: 204 };
}

export function param(ctx: Ctx, name: string): string {
  const v = ctx.params[name];
  if (v === undefined) throw new Error(`route has no {${name}}`);
  return v;
}

export function optionalQuery(ctx: Ctx, name: string): string | undefined {
  return ctx.query.get(name) ?? undefined;
}

export function requiredQuery(ctx: Ctx, name: string): string {
  const v = ctx.query.get(name);
  if (v === null) throw badInput(`unable to parse query string: missing field \`${name}\``);
  return v;
}

/** The body as type T after checking that it is an object carrying the required fields. */
export function body<T>(ctx: Ctx, required: readonly (keyof T & string)[] = []): T {
  const b = ctx.body;
  if (typeof b !== 'object' || b === null || Array.isArray(b)) {
    throw badInput('unable to parse JSON body: invalid type: expected a JSON object');
  }
  for (const field of required) {
    if (!(field in b)) {
      const wire = field.replace(/[A-Z]/g, (l) => '_' + l.toLowerCase());
      throw badInput(`unable to parse JSON body: missing field \`${wire}\``);
    }
  }
  return b as T;
}

/** Optional-and-nullable body fields: absent and null both mean "leave unchanged". */
export function isSet<T>(v: T | null | undefined): v is T {
  return v !== null && v !== undefined;
}

/** An endpoint behind bearer auth: every one the simulator serves except ping. */
export function endpoint(
  method: Method,
  path: string,
  operationId: string,
  handle: (ctx: Ctx) => Reply,
): Route {
  return { method, path, operationId, auth: true, handle };
}
