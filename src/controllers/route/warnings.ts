// An optional extension of a Routes provider, found by shape as Go finds optional interfaces:
// warnings about routes that were created but may not carry traffic (on Oxide: a NIC without the
// pod CIDR in transit_ips). The route controller logs each and records it on the Node.
import type { Routes } from '../../cloud/provider.ts';

export interface RouteWarning {
  nodeName: string;
  reason: string;
  message: string;
}

export interface RouteWarningSource {
  takeRouteWarnings(): RouteWarning[];
}

export function hasRouteWarnings(routes: Routes): routes is Routes & RouteWarningSource {
  return typeof (routes as Partial<RouteWarningSource>).takeRouteWarnings === 'function';
}
