// Kubeconfigs that are not YAML, each broken on or next to a line holding a secret (a token, a
// client key, a password): the yaml library's messages quote those lines, so a loader that passes
// them on prints the secret. src/kube/kubeconfig.test.ts loads them, test/cli.test.ts runs the
// program on them.
/** Each variant: the secret it holds and the lines under the user. */
export const BROKEN_KUBECONFIGS: Readonly<Record<string, { secret: string; lines: string[] }>> = {
  'token twice': {
    secret: 'TOKEN-DUP-SECRET',
    lines: ['    token: TOKEN-DUP-SECRET-1', '    token: TOKEN-DUP-SECRET-2'],
  },
  'client-key-data continued at a bad indentation': {
    secret: 'S0VZLVNFQ1JFVC',
    lines: [
      '    client-certificate-data: Q0VSVA==',
      '    client-key-data: S0VZLVNFQ1JFVC1saW5lMQ==',
      '   S0VZLVNFQ1JFVC1saW5lMg==',
    ],
  },
  'password in an unclosed flow mapping': {
    secret: 'HUNTER2-SECRET',
    lines: ['    {username: admin, password: HUNTER2-SECRET', 'x: 1'],
  },
  'token indented with a tab': { secret: 'TOKEN-TAB-SECRET', lines: ['\ttoken: TOKEN-TAB-SECRET'] },
  'token with an unknown tag (a warning, not an error)': {
    secret: 'TOKEN-TAG-SECRET',
    lines: ['    token: !vault TOKEN-TAG-SECRET'],
  },
  'token in an unclosed quote': {
    secret: 'TOKEN-QUOTE-SECRET',
    lines: ['    token: "TOKEN-QUOTE-SECRET', '    username: TOKEN-QUOTE-SECRET-2'],
  },
};

/** A kubeconfig whose user is `lines` (indented under `user:`, or a flow mapping after it). */
export function brokenKubeconfig(lines: readonly string[]): string {
  const flow = lines[0]?.trimStart().startsWith('{') ?? false;
  return [
    'apiVersion: v1',
    'clusters:',
    '- cluster:',
    '    server: https://127.0.0.1:6443',
    '  name: c',
    'contexts:',
    '- context: {cluster: c, user: u}',
    '  name: x',
    'current-context: x',
    'users:',
    '- name: u',
    ...(flow ? [`  user: ${(lines[0] ?? '').trim()}`, ...lines.slice(1)] : ['  user:', ...lines]),
    '',
  ].join('\n');
}
