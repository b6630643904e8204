// Flags → validated options and the enabled controllers, with every problem in one list.
import { resolveControllers } from './controllers.ts';
import { parseFlags } from './flags.ts';
import type { CcmOptions } from './options.ts';
import { validateOptions } from './validate.ts';
import { ROUTE_CONTROLLER } from '../names.ts';
import type { ControllerName } from '../names.ts';

export interface CommandLine {
  options: CcmOptions;
  controllers: ControllerName[];
  warnings: string[];
  errors: string[];
}

/** Exit code for usage errors, as Go programs (flag/pflag) use. */
export const USAGE_EXIT_CODE = 2;

export function readCommandLine(argv: readonly string[]): CommandLine {
  const { options, warnings, errors } = parseFlags(argv);
  const selection = resolveControllers(options.controllers);
  let controllers = selection.enabled;
  // The Go CCM v0.7.1 has no routes, so upstream skipped its route controller and started with
  // these flags and no --cluster-cidr: start too, without the route controller, and say so.
  if (
    controllers.includes(ROUTE_CONTROLLER) &&
    options.allocateNodeCidrs &&
    options.configureCloudRoutes &&
    options.clusterCidr.trim() === ''
  ) {
    controllers = controllers.filter((c) => c !== ROUTE_CONTROLLER);
    warnings.push(
      `${ROUTE_CONTROLLER.name} not started: --allocate-node-cidrs and --configure-cloud-routes need --cluster-cidr`,
    );
  }
  return {
    options,
    controllers,
    warnings,
    errors: [...errors, ...selection.errors, ...validateOptions(options)],
  };
}
