// The memory floor under the CCM: a Node.js process with the image's flags and environment that
// does what the CCM's transport does and nothing else. Mode "bare": nothing at all. Mode "tls":
// loads undici (the CCM's HTTP client), makes one HTTPS request over HTTP/2 to the apiserver and
// one HTTP request to the Oxide simulator, and keeps both connections, as the CCM does. Then it
// idles until killed. Plain JavaScript: type stripping (a .ts file) would itself cost memory.
// argv: mode, undici entry (absolute path), apiserver URL, bearer token, simulator URL.
const [mode, undiciPath, apiserver, token, sim] = process.argv.slice(2);

if (mode === 'tls') {
  const { Agent, fetch } = await import(undiciPath);
  const kube = new Agent({ connect: { rejectUnauthorized: false }, allowH2: true });
  const res = await fetch(`${apiserver}/version`, {
    headers: { authorization: `Bearer ${token}` },
    dispatcher: kube,
  });
  await res.text();
  const oxide = new Agent();
  await (await fetch(`${sim}/v1/ping`, { dispatcher: oxide })).text();
}
process.stdout.write('ready\n');
setInterval(() => {}, 1 << 30);
