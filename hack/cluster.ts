// `make cluster`: etcd + kube-apiserver on loopback (the test control plane) for poking at by hand
// or pointing a CCM at. Prints the kubeconfig and a kubectl hint; Ctrl-C or SIGTERM stops both and
// removes the temp dir.
import { join } from 'node:path';
import { ControlPlane } from '../test/harness/controlplane.ts';
import { testbinDir } from '../test/harness/testbin.ts';
import { takeOverSignals } from './demo/signals.ts';

const cp = new ControlPlane();
const started = Date.now();
const info = await cp.start();
const stopped = takeOverSignals(() => cp.killNow());
const kubectl = join(testbinDir(), 'kubectl');

console.log(
  `# kube-apiserver ready at ${info.server} in ${((Date.now() - started) / 1000).toFixed(1)}s`,
);
console.log(`# logs: ${join(info.dir, 'kube-apiserver.log')}, ${join(info.dir, 'etcd.log')}`);
console.log(`export KUBECONFIG=${info.kubeconfig}`);
console.log(`# try: ${kubectl} --kubeconfig ${info.kubeconfig} get --raw /readyz?verbose`);
console.log(`#      ${kubectl} --kubeconfig ${info.kubeconfig} get namespaces`);
console.log('# Ctrl-C stops etcd and kube-apiserver and removes the directory');

const signal = await stopped;
console.log(`\n# ${signal}: stopping kube-apiserver and etcd`);
await cp.stop();
console.log('# stopped; temp dir removed');
