// Structured JSON logs (pino) with klog-style verbosity: -v=N enables logger.debug for N >= 4
// and logger.trace for N >= 6. Secrets never reach a log line: the Oxide token is redacted by
// path wherever it could appear, and errors are logged by message, not by request object.
import { pino } from 'pino';
import type { Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export function levelForVerbosity(v: number): string {
  if (v >= 6) return 'trace';
  if (v >= 4) return 'debug';
  return 'info';
}

export function createLogger(verbosity = 2, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level: levelForVerbosity(verbosity),
    base: { component: 'oxide-cloud-controller-manager' },
    redact: {
      paths: [
        'token',
        '*.token',
        'headers.authorization',
        '*.headers.authorization',
        'oxideToken',
        '*.oxideToken',
      ],
      censor: '[REDACTED]',
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A logger that drops everything; for tests that do not look at logs. */
export const silentLogger: Logger = pino({ level: 'silent' });
