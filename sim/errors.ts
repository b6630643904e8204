// Error bodies as Nexus renders them: `{ error_code, message, request_id }`, with the status per
// error_code from omicron's `Error` → `HttpError` mapping (ObjectAlreadyExists is 400, not 409).
// Dropshot's own errors (routing, body parsing, versioning) carry no error_code.

export class ApiError extends Error {
  readonly status: number;
  readonly errorCode: string | undefined;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    errorCode: string | undefined,
    message: string,
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = status;
    this.errorCode = errorCode;
    this.headers = headers;
  }
}

/** Omicron's resource type names, as they appear in not-found / already-exists messages. */
export type ResourceType =
  | 'project'
  | 'instance'
  | 'instance-network-interface'
  | 'floating-ip'
  | 'ip-pool'
  | 'vpc'
  | 'vpc-subnet'
  | 'vpc-router'
  | 'router-route';

export function notFound(type: ResourceType, by: 'name' | 'id', value: string): ApiError {
  return new ApiError(404, 'ObjectNotFound', `not found: ${type} with ${by} "${value}"`);
}

export function alreadyExists(type: ResourceType, name: string): ApiError {
  return new ApiError(400, 'ObjectAlreadyExists', `already exists: ${type} "${name}"`);
}

export function invalidRequest(message: string): ApiError {
  return new ApiError(400, 'InvalidRequest', message);
}

export function invalidValue(label: string, message: string): ApiError {
  return new ApiError(400, 'InvalidValue', `unsupported value for "${label}": ${message}`);
}

/** Dropshot's 400 for a query string or body that does not deserialize. */
export function badInput(message: string): ApiError {
  return new ApiError(400, undefined, message);
}

export function unauthorized(): ApiError {
  return new ApiError(401, 'Unauthorized', 'credentials missing or invalid');
}

export function insufficientCapacity(message: string): ApiError {
  return new ApiError(507, 'InsufficientCapacity', message);
}

/** error_code Nexus uses for a status the fault injector returns. */
export function errorCodeForStatus(status: number): string | undefined {
  const codes: Record<number, string> = {
    400: 'InvalidRequest',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'ObjectNotFound',
    409: 'Conflict',
    500: 'Internal',
    503: 'ServiceNotAvailable',
    507: 'InsufficientCapacity',
  };
  return codes[status];
}
