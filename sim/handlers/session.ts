// Reachability, credential check and projects.
import type { CurrentUser, Ping, Project, ProjectResultsPage } from '@oxide/api';
import { paginate } from '../pagination.ts';
import { param, reply, type Route } from '../http.ts';

export const sessionRoutes: Route[] = [
  {
    method: 'GET',
    path: '/v1/ping',
    operationId: 'ping',
    auth: false,
    handle: () => reply<Ping>(200, { status: 'ok' }),
  },
  {
    method: 'GET',
    path: '/v1/me',
    operationId: 'current_user_view',
    auth: true,
    handle: (ctx) => reply<CurrentUser>(200, ctx.db.user),
  },
  {
    method: 'GET',
    path: '/v1/projects',
    operationId: 'project_list',
    auth: true,
    handle: (ctx) => reply<ProjectResultsPage>(200, paginate(ctx.db.projects, ctx.query)),
  },
  {
    method: 'GET',
    path: '/v1/projects/{project}',
    operationId: 'project_view',
    auth: true,
    handle: (ctx) => reply<Project>(200, ctx.db.project(param(ctx, 'project'))),
  },
];
