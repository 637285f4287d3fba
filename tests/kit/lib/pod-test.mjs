// What every kit test that runs pods as processes (pods, rolling-pods,
// upgrade-pods) starts with: its prerequisites (kustomize, the npm modules,
// the built mehdbd, its own network namespace, the tools lib/kubelet.mjs
// uses), and the helpers its steps use on the running cluster.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { findKustomize, loadNpm, mehdbdBinary, skipUnlessCI } from "./kit.mjs";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function missing(kz, npm, binary) {
  if (kz.skip || npm.skip) return kz.skip || npm.skip;
  if (!binary) return "mehdbd is not built (meson passes its path as MEHDBD)";
  if (!process.env.KIT_NETNS) return "run through tests/kit/netns.sh (own network namespace)";
  for (const tool of ["curl", "setpriv", "unshare"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `needs ${tool}`;
  }
  return false;
}

// { kz, npm, binary, skip }: skip is false or why the pods cannot run (a
// failed test under CI, where every prerequisite must be there).
export async function podPrerequisites(test) {
  const kz = findKustomize();
  const npm = await loadNpm();
  const binary = mehdbdBinary();
  return { kz, npm, binary, skip: skipUnlessCI(test, missing(kz, npm, binary)) };
}

// Helpers on the cluster `current()` returns (a test may replace it):
// logs() is every pod's log tail; curl(...) runs curl -f from the jump pod,
// asserts success (with the logs) and returns the body.
export function podTools(current) {
  const logs = () => [...current().pods.values()].map((p) => p.logTail()).join("\n");
  function curl(...args) {
    const r = current().curl("-f", ...args);
    assert.ok(r.ok, `curl ${args.join(" ")}: ${r.err}\n${logs()}`);
    return r.out;
  }
  return { logs, curl };
}

// Retries fn every `every` ms until it stops throwing, for at most `ms`
// (replication is asynchronous); rethrows its last error.
export async function eventually(fn, ms, every = 200) {
  const end = Date.now() + ms;
  for (;;) {
    try { return await fn(); } catch (e) { if (Date.now() > end) throw e; }
    await sleep(every);
  }
}
