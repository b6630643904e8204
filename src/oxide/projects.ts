// Project and current-user calls: what startup checks before the controllers run.
import type { CurrentUser, Project } from '@oxide/api';
import type { OxideClient } from './client.ts';

/** GET /v1/me: proves the token works (kind 'auth' otherwise). */
export function viewCurrentUser(client: OxideClient, signal?: AbortSignal): Promise<CurrentUser> {
  return client.call(
    'current_user_view',
    (api, params) => api.methods.currentUserView({}, params),
    signal,
  );
}

/** The configured project: proves it exists and the token can see it. */
export function viewProject(client: OxideClient, signal?: AbortSignal): Promise<Project> {
  return client.call(
    'project_view',
    (api, params) => api.methods.projectView({ path: { project: client.project } }, params),
    signal,
  );
}
