// The program's version, printed by --version and sent as part of the user agent. Kept in source
// (not read from package.json at run time) so the bundled image needs no package.json; a test
// checks that the two agree.
export const VERSION = '0.8.0';

export const PROGRAM = 'oxide-cloud-controller-manager';

export const userAgent = (): string => `${PROGRAM}/${VERSION}`;
