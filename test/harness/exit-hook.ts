// Child processes of a test run die with it: whatever is registered here is killed when this
// process exits, and on SIGINT/SIGTERM (then exit 130), so a crashed or interrupted test leaves
// no etcd, kube-apiserver or cluster component running.

interface Killable {
  killNow(): void;
}

const live = new Set<Killable>();
let hooked = false;

function killAll(): void {
  for (const p of live) p.killNow();
}

/** Kills `p` (killNow) if this process exits or is interrupted before `release(p)`. */
export function killOnExit(p: Killable): void {
  if (!hooked) {
    hooked = true;
    process.on('exit', killAll);
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        killAll();
        process.exit(130);
      });
    }
  }
  live.add(p);
}

/** `p` has stopped: nothing to kill on exit. */
export function release(p: Killable): void {
  live.delete(p);
}
