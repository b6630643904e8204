// Flags → validated options and the enabled controllers, with every problem in one list.
import { resolveControllers } from './controllers.ts';
import { parseFlags } from './flags.ts';
import type { CcmOptions } from './options.ts';
import { validateOptions } from './validate.ts';
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
  return {
    options,
    controllers: selection.enabled,
    warnings,
    errors: [...errors, ...selection.errors, ...validateOptions(options)],
  };
}
