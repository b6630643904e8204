// The one silo and user the simulator serves, and the projects in it (handlers/session.ts). Every
// project is created with its default VPC, as Nexus does.
import { randomUUID } from 'node:crypto';
import type { CurrentUser, Project } from '@oxide/api';
import type { Silo } from './types.ts';
import { alreadyExists } from '../errors.ts';
import { checkName, now } from './select.ts';
import { createVpc } from './vpcs.ts';

/** The project a seed without `project` gets. */
export const DEFAULT_PROJECT = 'k8s';

export function newUser(siloId: string, siloName: string): CurrentUser {
  const t = now();
  return {
    id: randomUUID(),
    displayName: 'sim-user',
    siloId,
    siloName,
    siloAdmin: false,
    fleetViewer: false,
    timeCreated: t,
    timeModified: t,
  };
}

export function addProject(db: Silo, name: string): Project {
  checkName(name);
  if (db.projects.some((p) => p.name === name)) throw alreadyExists('project', name);
  const t = now();
  const project: Project = {
    id: randomUUID(),
    name,
    description: `project ${name}`,
    timeCreated: t,
    timeModified: t,
  };
  db.projects.push(project);
  createVpc(db, project.id, t);
  return project;
}
