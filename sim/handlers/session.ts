// Reachability, credential check and projects.
import type { CurrentUser, Ping, Project, ProjectResultsPage } from '@oxide/api';
import { paginate } from '../pagination.ts';
import { endpoint, param, reply, type Route } from '../http.ts';

export const sessionRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/ping',
    operationId: 'ping',
    auth: false,
    handle: () => reply<Ping>(200, { status: 'ok' }),
  },
  endpoint('GET', '/v1/me', 'current_user_view', (ctx) => reply<CurrentUser>(200, ctx.db.user)),
  endpoint('GET', '/v1/projects', 'project_list', (ctx) =>
    reply<ProjectResultsPage>(200, paginate(ctx.db.projects, ctx.query)),
  ),
  endpoint('GET', '/v1/projects/{project}', 'project_view', (ctx) =>
    reply<Project>(200, ctx.db.project(param(ctx, 'project'))),
  ),
];
