// "Upgrade for real": the tutorial's StatefulSet (app.yaml, mehdb 0.6) with
// data on its volumes, rolled over to overlays/upgrade-from-0.6 the way a
// StatefulSet RollingUpdate with OrderedReady does it: mehdb-1 first, then
// mehdb-0. Pods run as local processes (lib/kubelet.mjs); the pods not yet
// replaced run lib/original-standin.mjs, a stand-in of ours that serves the
// original's API exactly as ORIGINAL_API.md describes it, from volumes in the
// original's layout. Every key stays readable on the follower throughout and
// on the leader afterwards, a write to the original leader during the roll and
// one to ours after it both replicate, and nothing is lost.
// Run through netns.sh (meson does), as root.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { KIT_TESTS, KUSTOMIZE_DIR, parseAll, render } from "./lib/kit.mjs";
import { eventually as retry, podPrerequisites, podTools, sleep } from "./lib/pod-test.mjs";
import { Cluster } from "./lib/kubelet.mjs";

const NAMESPACE = "default";
const ORIGINAL_USER = 1001; // the original image's user and group (chown 1001:1)
const ORIGINAL_GROUP = 1;

const { kz, npm, binary, skip } = await podPrerequisites(test);

const root = fs.mkdtempSync(path.join(os.tmpdir(), "kit-upgrade-"));
const tutorial = skip ? null : parseAll(npm.yaml, fs.readFileSync(path.join(KIT_TESTS, "fixtures", "tutorial-app.yaml"), "utf8"))
  .find((o) => o.kind === "StatefulSet");
const original = tutorial?.spec.template.spec.containers[0];
const cluster = skip ? null : new Cluster({
  objs: parseAll(npm.yaml, render(kz, path.join(KUSTOMIZE_DIR, "overlays", "upgrade-from-0.6")).yaml),
  root, binary, namespace: NAMESPACE,
});
after(async () => {
  await cluster?.shutdown();
  if (!process.env.KIT_KEEP) fs.rmSync(root, { recursive: true, force: true });
});

const { logs, curl } = podTools(() => cluster);
const eventually = (fn, ms = 30000) => retry(fn, ms, 300);

// The data: keys of the original's alphabet, values of 0 B to 64 KiB and one
// of 1 MiB, written as the original writes them.
const data = new Map();
for (let i = 0; i < 150; i++) {
  const key = "k" + [...i.toString(26)].map((d) => String.fromCharCode(97 + parseInt(d, 26))).join("");
  data.set(key, Buffer.alloc((i * 467) % 65536, 97 + (i % 26)));
}
data.set("big", Buffer.alloc(1 << 20, 0x5a));
data.set("empty", Buffer.alloc(0));

function writeOriginalVolume(dir, contents) {
  fs.mkdirSync(dir, { recursive: true });
  for (const [k, v] of contents) {
    fs.mkdirSync(path.join(dir, k), { recursive: true });
    fs.writeFileSync(path.join(dir, k, "content"), v);
  }
  spawnSync("chown", ["-R", `${ORIGINAL_USER}:${ORIGINAL_GROUP}`, dir]);
}

// Every key of `want` answers its value on pod i, and nothing else is listed.
function assertServes(i, want) {
  const host = `mehdb-${i}.mehdb:9876`;
  assert.deepEqual(JSON.parse(curl(`${host}/keys`)), [...want.keys()].sort(), `${host}/keys`);
  const file = path.join(root, "got");
  for (const [k, v] of want) {
    curl("-o", file, `${host}/get/${k}`);
    assert.ok(fs.readFileSync(file).equals(v), `${host}/get/${k}`);
  }
}
const mode = (i) => JSON.parse(curl(`mehdb-${i}.mehdb:9876/replication`)).follower?.mode;

test("the tutorial's pods run the original on their volumes", { skip }, async () => {
  writeOriginalVolume(cluster.pvcDir("data", 0), data);
  // The original's follower copy, as it leaves it: a key behind.
  const copy = new Map(data);
  copy.set("kb", Buffer.from("stale"));
  writeOriginalVolume(cluster.pvcDir("data", 1), copy);
  await cluster.start(0, { original });
  await cluster.start(1, { original });
  await cluster.waitReady([0, 1]);
  assert.equal(curl("mehdb-0.mehdb:9876/status"), "leader");
  assert.equal(curl("mehdb:9876/status?level=full"), `${data.size}\n`);
});

test("rolling update, mehdb-1 first: it imports its volume, follows the original leader, is Ready", { skip }, async () => {
  await cluster.stop(1);
  await cluster.start(1);
  await cluster.waitReady([1]);
  assert.equal(curl("mehdb-1.mehdb:9876/status"), "follower");
  await eventually(() => assertServes(1, data)); // the stale key corrected
  assert.equal(mode(1), "original-api");
  assert.match(fs.readFileSync(cluster.pods.get(1).logFile, "utf8"), /import of mehdb 0\.6: imported \d+ keys/);
  assert.ok(fs.existsSync(path.join(cluster.pvcDir("data", 1), "mehdb-0.6", "big", "content")), "the original's files are kept");
});

test("a write to the original leader reaches the new follower; a write to it redirects", { skip }, async () => {
  const f = path.join(root, "value");
  fs.writeFileSync(f, "during the roll");
  assert.equal(curl("-XPUT", "-T", f, "mehdb-0.mehdb:9876/set/during"), "WRITE completed");
  data.set("during", Buffer.from("during the roll"));
  await eventually(() => assertServes(1, data));
  const r = cluster.curl("-o", "/dev/null", "-w", "%{http_code}", "-XPUT", "--data-binary", "x", "mehdb-1.mehdb:9876/set/x");
  assert.equal(r.out, "307");
});

test("then mehdb-0: the follower serves every key while it is down; ours imports the leader's volume", { skip }, async () => {
  await cluster.stop(0);
  assertServes(1, data);
  await cluster.start(0);
  await cluster.waitReady([0, 1]);
  assert.equal(curl("mehdb-0.mehdb:9876/status"), "leader");
  assertServes(0, data);
  await eventually(() => assert.equal(mode(1), "peer"));
  assertServes(1, data);
});

test("after the upgrade a new write replicates and nothing was lost", { skip }, async () => {
  const f = path.join(root, "value");
  fs.writeFileSync(f, "after the roll");
  assert.equal(curl("-XPUT", "-T", f, "mehdb-leader:9876/set/after"), "WRITE completed");
  data.set("after", Buffer.from("after the roll"));
  await eventually(() => assertServes(1, data));
  assertServes(0, data);
  assert.equal(curl("mehdb:9876/status?level=full"), `${data.size}\n`);
  for (const p of cluster.pods.values()) assert.equal(p.livenessKills, 0, `${p.name} was never killed by its liveness probe`);
});
