// Which Oxide API version this build sends, and which Oxide releases accept it. Every request
// carries `api-version`; a rack answers 400 to a version newer than its release knows, and keeps
// serving every older version it shipped since. So we send the OLDEST version that has every
// operation and schema we call, not the newest one the SDK was generated from: @oxide/api 0.9.0
// is generated from 2026073100.0.0 (release 22), but for the operations this project calls the
// 2026060800.0.0 document (release 20, what the Go CCM v0.7.1 sends) is identical
// (test/oxide-api-version.test.ts compares the two documents, operation by operation).
// A feature that needs a newer version later must ask for it per call and degrade when the rack
// answers 400, never raise this floor and stop older racks from starting.

/** API versions (the OpenAPI document's info.version) by the Oxide release that first ships them. */
const RELEASES: Readonly<Record<string, number>> = {
  '2026060800.0.0': 20,
  '2026073100.0.0': 22,
};

/** The version sent in the `api-version` header of every request. */
export const API_VERSION = '2026060800.0.0';

export interface ApiRelease {
  apiVersion: string;
  /** Undefined when this table does not know the version yet. */
  release: number | undefined;
}

export function releaseForApiVersion(apiVersion = API_VERSION): ApiRelease {
  return { apiVersion, release: RELEASES[apiVersion] };
}

/** A sentence for operators: what this build needs from the rack. */
export function requiredRelease(): string {
  const { apiVersion, release } = releaseForApiVersion();
  const needs =
    release === undefined ? 'the Oxide release that ships it' : `Oxide release ${release} or newer`;
  return `this build speaks Oxide API version ${apiVersion} and needs ${needs}`;
}
