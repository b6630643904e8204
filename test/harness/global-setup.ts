// node --test global setup: one control plane for the whole run, shared by every test file
// through OXIDE_CCM_TEST_KUBECONFIG (test files run in child processes that inherit env).
import { ControlPlane } from './controlplane.ts';

let cp: ControlPlane | undefined;

export async function globalSetup(): Promise<void> {
  if (process.env['OXIDE_CCM_TEST_KUBECONFIG']) return;
  cp = new ControlPlane();
  const info = await cp.start();
  process.env['OXIDE_CCM_TEST_KUBECONFIG'] = info.kubeconfig;
  process.env['OXIDE_CCM_TEST_TOKEN'] = info.token;
  process.env['OXIDE_CCM_TEST_SERVER'] = info.server;
}

export async function globalTeardown(): Promise<void> {
  await cp?.stop();
}
