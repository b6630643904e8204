// The SDK's Api with one -v=6 trace line per HTTP request (method, host, path, status, latency),
// as client-go's round trippers log Kubernetes requests. Only the URL is logged: the token
// travels in the Authorization header, which never reaches a log line.
import { Api } from '@oxide/api';
import type { ApiResult } from '@oxide/api';
import { traceRequest } from '../log.ts';
import { describeError } from '../util/errors.ts';

type RequestParams = Parameters<Api['request']>[0];

export class TracedApi extends Api {
  override async request<Data>(params: RequestParams): Promise<ApiResult<Data>> {
    const started = performance.now();
    let status = 0;
    let err: string | undefined;
    try {
      const result = await super.request<Data>(params);
      status = result.response.status;
      return result;
    } catch (e) {
      // With its causes: fetch's own message is only "fetch failed".
      err = describeError(e);
      throw e;
    } finally {
      const url = new URL((params.host ?? this.host) + params.path, 'http://unknown');
      traceRequest({
        client: 'oxide-client',
        method: params.method ?? 'GET',
        host: url.host,
        path: url.pathname + requestQuery(params.query),
        status,
        milliseconds: performance.now() - started,
        ...(err === undefined ? {} : { err }),
      });
    }
  }
}

/** The query as the SDK sends it, with snake_case keys; null values dropped. */
function requestQuery(query: RequestParams['query']): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    const name = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    parts.push(`${name}=${encodeURIComponent(String(value))}`);
  }
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}
