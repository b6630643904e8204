// Test support: the Oxide OpenAPI documents (sim/openapi/, copied from Oxide's published API
// description; provenance in sim/openapi/README.md; never needed at run time) turned into ajv
// validators for request and response bodies.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import formatsModule from 'ajv-formats';

/** The published document of one Oxide API version, kept in the repository. */
export function specPath(version: string): string {
  return fileURLToPath(new URL(`openapi/nexus-${version}.json`, import.meta.url));
}

/** The release-22 document, the one `@oxide/api` 0.9.0 and this simulator follow. */
export const SPEC_PATH = specPath('2026073100.0.0');

type Json = Record<string, unknown>;

interface SpecDoc {
  info: { version: string };
  paths: Record<string, Record<string, Json>>;
  components: { schemas: Record<string, unknown>; responses?: Record<string, Json> };
}

export interface SpecOperation {
  method: string;
  path: string;
  operationId: string;
  /** Query and path parameter names. */
  query: string[];
  pathParams: string[];
  requestSchema: unknown;
  /** Status code (or 4XX/5XX) → body schema, undefined for bodiless responses. */
  responses: Record<string, unknown>;
}

/** Throws when the document is absent: a checkout without it is broken, not a reason to skip. */
export function loadSpec(path: string = SPEC_PATH): SpecDoc {
  return JSON.parse(readFileSync(path, 'utf8')) as SpecDoc;
}

function jsonSchema(content: unknown): unknown {
  return (content as { 'application/json'?: { schema?: unknown } } | undefined)?.[
    'application/json'
  ]?.schema;
}

export function specOperations(spec: SpecDoc): Map<string, SpecOperation> {
  const ops = new Map<string, SpecOperation>();
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, raw] of Object.entries(methods)) {
      const op = raw as {
        operationId?: string;
        parameters?: { in: string; name: string }[];
        requestBody?: { content?: unknown };
        responses?: Record<string, { content?: unknown; $ref?: string }>;
      };
      if (!op.operationId) continue;
      const responses: Record<string, unknown> = {};
      for (const [code, r] of Object.entries(op.responses ?? {})) {
        const resolved = r.$ref
          ? spec.components.responses?.[r.$ref.split('/').at(-1) as string]
          : r;
        responses[code] = jsonSchema((resolved as { content?: unknown } | undefined)?.content);
      }
      ops.set(op.operationId, {
        method: method.toUpperCase(),
        path,
        operationId: op.operationId,
        query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
        pathParams: (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
        requestSchema: jsonSchema(op.requestBody?.content),
        responses,
      });
    }
  }
  return ops;
}

/**
 * OpenAPI 3.0 → JSON Schema: `nullable: true` becomes "null or the schema" (it also sits beside
 * allOf/$ref, where ajv's own `nullable` support does not reach), objects with declared properties
 * are closed, and component refs point into the document registered as `spec`.
 */
function rewrite(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rewrite);
  if (typeof node !== 'object' || node === null) return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'nullable') continue;
    out[k] = k === '$ref' && typeof v === 'string' ? v.replace(/^#/, 'spec#') : rewrite(v);
  }
  // Closed objects: a field the real API does not send (or accept) is a finding, not noise.
  if (out.type === 'object' && out.properties && out.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  return (node as Json).nullable === true ? { anyOf: [{ type: 'null' }, out] } : out;
}

const INT_FORMATS: Record<string, [number, number]> = {
  uint8: [0, 0xff],
  uint16: [0, 0xffff],
  uint32: [0, 0xffffffff],
  uint64: [0, Number.MAX_VALUE],
  uint: [0, Number.MAX_VALUE],
  int8: [-0x80, 0x7f],
  int16: [-0x8000, 0x7fff],
  int32: [-0x80000000, 0x7fffffff],
  int64: [-Number.MAX_VALUE, Number.MAX_VALUE],
};

export class SpecValidator {
  readonly operations: Map<string, SpecOperation>;
  private readonly ajv: Ajv;
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(spec: SpecDoc) {
    this.operations = specOperations(spec);
    this.ajv = new Ajv({ allErrors: true, strict: false });
    // ajv-formats is CommonJS; its callable export is the module itself at run time.
    const addFormats = ((formatsModule as unknown as { default?: unknown }).default ??
      formatsModule) as unknown as (ajv: Ajv) => Ajv;
    addFormats(this.ajv);
    this.ajv.addFormat('ip', { type: 'string', validate: (s: string) => isIP(s) !== 0 });
    for (const [name, [min, max]] of Object.entries(INT_FORMATS)) {
      this.ajv.addFormat(name, {
        type: 'number',
        validate: (n: number) => Number.isInteger(n) && n >= min && n <= max,
      });
    }
    for (const name of ['float', 'double'])
      this.ajv.addFormat(name, { type: 'number', validate: () => true });
    this.ajv.addFormat('hex string (32 bytes)', /^[0-9a-fA-F]{64}$/);
    this.ajv.addSchema({ $id: 'spec', components: { schemas: rewrite(spec.components.schemas) } });
  }

  private compile(key: string, schema: unknown): ValidateFunction {
    let v = this.cache.get(key);
    if (!v) {
      v = this.ajv.compile(rewrite(schema) as Json);
      this.cache.set(key, v);
    }
    return v;
  }

  private errors(v: ValidateFunction, data: unknown): string[] {
    return v(data)
      ? []
      : (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
  }

  operation(operationId: string): SpecOperation {
    const op = this.operations.get(operationId);
    if (!op) throw new Error(`no operation ${operationId} in the spec`);
    return op;
  }

  /** Problems with a raw (snake_case) response body for this operation and status. */
  response(operationId: string, status: number, body: unknown): string[] {
    const op = this.operation(operationId);
    const code = String(status);
    const key = code in op.responses ? code : `${code[0]}XX`;
    if (!(key in op.responses)) return [`status ${status} is not a documented response`];
    const schema = op.responses[key];
    if (schema === undefined) return body === undefined ? [] : [`status ${status} has no body`];
    return this.errors(this.compile(`${operationId} ${key}`, schema), body);
  }

  /** Problems with a raw (snake_case) request body for this operation. */
  request(operationId: string, body: unknown): string[] {
    const op = this.operation(operationId);
    if (op.requestSchema === undefined)
      return body === undefined ? [] : ['operation takes no body'];
    return this.errors(this.compile(`${operationId} request`, op.requestSchema), body);
  }
}
