// Which Oxide release the bundled SDK speaks. The SDK sends `api-version` on every request and an
// older rack rejects a newer version with a 400, so error messages name the release to upgrade to.
import { Api } from '@oxide/api';

/** API versions (from the OpenAPI document's info.version) by the Oxide release that ships them. */
const RELEASES: Readonly<Record<string, number>> = {
  '2026073100.0.0': 22,
};

export interface ApiRelease {
  apiVersion: string;
  /** Undefined when this table does not know the SDK's version yet. */
  release: number | undefined;
}

export function releaseForApiVersion(apiVersion = new Api().apiVersion): ApiRelease {
  return { apiVersion, release: RELEASES[apiVersion] };
}

/** A sentence for operators: what this build needs from the rack. */
export function requiredRelease(): string {
  const { apiVersion, release } = releaseForApiVersion();
  const needs =
    release === undefined ? 'the Oxide release that ships it' : `Oxide release ${release} or newer`;
  return `this build speaks Oxide API version ${apiVersion} and needs ${needs}`;
}
