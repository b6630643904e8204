// Which cluster an Oxide object belongs to. Several clusters may share one Oxide project, and
// Oxide has no tags, so every object the CCM creates carries an ownership record in its
// description; the record names the cluster by an identity that is unique by construction (the
// UID of the cluster's kube-system namespace, or --cluster-id), next to the human --cluster-name
// (which two clusters may well share: its default is "kubernetes"). Pure functions; the rules
// are written out in docs/clusters.md.

/** One cluster as the records name it. */
export interface ClusterIdentity {
  /** --cluster-name: in generated names and records, for people. Not unique. */
  name: string;
  /**
   * The kube-system namespace's UID, or --cluster-id: decides. Empty (UNKNOWN_CLUSTER_ID) only
   * when RBAC does not let the CCM read it (the Go CCM's ClusterRole, image swapped alone): then
   * records are written without an identity, as v0.8 did, and no record naming one is taken.
   */
  id: string;
}

export const UNKNOWN_CLUSTER_ID = '';

/** The token of a record that names the cluster identity. */
export const CLUSTER_ID_TOKEN = 'cluster-id=';

/**
 * The cluster identity a description names, or undefined when it names none (a record written
 * before identities: this CCM up to v0.8, or the Go CCM). Token by token: an identity never
 * contains spaces (clusterIdProblem).
 */
export function clusterIdIn(description: string): string | undefined {
  for (const token of description.split(/\s+/)) {
    if (token.startsWith(CLUSTER_ID_TOKEN)) return token.slice(CLUSTER_ID_TOKEN.length);
  }
  return undefined;
}

/** How a record relates to this cluster by identity alone. */
export type Membership =
  /** Names this cluster's identity. */
  | 'this'
  /** Names another identity: never touched, whatever else the record says. */
  | 'other'
  /** Names no identity (an earlier version's record): decided by the resource's own rules. */
  | 'legacy';

export function membershipOf(description: string, cluster: ClusterIdentity): Membership {
  return membershipOfId(clusterIdIn(description), cluster);
}

/** membershipOf from the identity a record names (undefined: none). */
export function membershipOfId(id: string | undefined, cluster: ClusterIdentity): Membership {
  if (id === undefined) return 'legacy';
  return id === cluster.id && id !== UNKNOWN_CLUSTER_ID ? 'this' : 'other';
}

/** ` cluster-id=<id>` for a record, or nothing while the identity is unknown. */
export const identityToken = (cluster: ClusterIdentity): string =>
  cluster.id === UNKNOWN_CLUSTER_ID ? '' : ` ${CLUSTER_ID_TOKEN}${cluster.id}`;

/**
 * The longest --cluster-name: the route controller's router is `<cluster-name>-pods`, and Oxide
 * names are at most 63 characters.
 */
export const MAX_CLUSTER_NAME = 63 - '-pods'.length;

/**
 * Why `name` cannot be a --cluster-name, or undefined. It starts every name the CCM generates
 * (`<cluster-name>-<namespace>-<service>`, `<cluster-name>-pods`), so it must be a prefix of an
 * Oxide Name (the API's `Name` schema: a lowercase ASCII letter first, then ASCII letters,
 * digits and '-'), short enough to leave room for what follows. A trailing '-' is fine: a
 * generated name never ends with the cluster name.
 */
export function clusterNameProblem(name: string): string | undefined {
  const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 77)}...` : name);
  if (name === '') return '--cluster-name must not be empty';
  if (name.length > MAX_CLUSTER_NAME) {
    return (
      `--cluster-name ${shown} is ${name.length} characters; at most ${MAX_CLUSTER_NAME} ` +
      `(Oxide names have at most 63, and the CCM names objects <cluster-name>-pods and <cluster-name>-<namespace>-<service>)`
    );
  }
  if (!/^[a-z][a-zA-Z0-9-]*$/.test(name)) {
    return (
      `--cluster-name ${shown} cannot start an Oxide name: it must begin with a lowercase ASCII ` +
      `letter and contain only ASCII letters, digits and '-'`
    );
  }
  return undefined;
}

/** The longest --cluster-id: a DNS label, as the kube-system UID (36 characters) is one. */
export const MAX_CLUSTER_ID = 63;

/**
 * Why `id` cannot be a cluster identity, or undefined. It is written as one token into
 * descriptions (`cluster-id=<id>`), so it is a DNS label: lowercase letters, digits and '-', at
 * most 63, starting and ending with a letter or digit. The kube-system UID is one.
 */
export function clusterIdProblem(id: string, what = '--cluster-id'): string | undefined {
  const shown = JSON.stringify(id.length > 80 ? `${id.slice(0, 77)}...` : id);
  if (id.length > MAX_CLUSTER_ID) {
    return `${what} ${shown} is ${id.length} characters; at most ${MAX_CLUSTER_ID}`;
  }
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(id)) {
    return (
      `${what} ${shown} is not a DNS label (lowercase letters, digits and '-', starting and ` +
      'ending with a letter or digit)'
    );
  }
  return undefined;
}
