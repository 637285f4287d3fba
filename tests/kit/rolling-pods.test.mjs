// "Day two for real": the dev overlay's pods (3 of them) run as local mehdbd
// processes (lib/kubelet.mjs), then
//  - a rolling restart as a StatefulSet RollingUpdate does it (mehdb-2,
//    mehdb-1, then mehdb-0, each deleted, started again and Ready before the
//    next) under continuous reads through mehdb-read and writes through
//    mehdb-leader: no read fails at any moment, writes fail only while
//    mehdb-0 is down (the time is reported), no acknowledged write is lost,
//    and mehdb-read always has a ready endpoint;
//  - mehdb-0's volume lost: it comes back on an empty PVC and recovers the
//    data from its followers, with the same history id; the followers stream
//    on without a snapshot and a new write replicates.
// Run through netns.sh (meson does), as root.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { KUSTOMIZE_DIR, parseAll, render } from "./lib/kit.mjs";
import { eventually as retry, podPrerequisites, podTools, sleep } from "./lib/pod-test.mjs";
import { Cluster } from "./lib/kubelet.mjs";

const REPLICAS = 3;

const { kz, npm, binary, skip } = await podPrerequisites(test);

const root = fs.mkdtempSync(path.join(os.tmpdir(), "kit-rolling-"));
const cluster = skip ? null : new Cluster({
  objs: parseAll(npm.yaml, render(kz, path.join(KUSTOMIZE_DIR, "overlays", "dev")).yaml),
  root, binary, namespace: "default",
});
after(async () => {
  await cluster?.shutdown();
  if (!process.env.KIT_KEEP) fs.rmSync(root, { recursive: true, force: true });
});

const ordinals = Array.from({ length: REPLICAS }, (_, i) => i);
const { logs, curl } = podTools(() => cluster);
const eventually = (fn, ms = 20000) => retry(fn, ms);
const replication = (i) => JSON.parse(curl(`mehdb-${i}.mehdb:9876/replication`));

// Every write mehdb-leader acknowledged: key -> value.
const acked = new Map();

test("three pods come up Ready with data", { skip }, async () => {
  await Promise.all(ordinals.map((i) => cluster.start(i)));
  await cluster.waitReady(ordinals);
  for (let n = 0; n < 20; n++) {
    assert.equal(curl("-XPUT", "--data-binary", `seed${n}`, `mehdb-leader:9876/set/seed${n}`), "WRITE completed");
    acked.set(`seed${n}`, `seed${n}`);
  }
});

test("rolling restart (mehdb-2, mehdb-1, mehdb-0) under load: reads never fail, writes only while mehdb-0 is down, nothing lost", { skip }, async (t) => {
  let running = true;
  const readErrors = [];
  let reads = 0;
  let minReadEndpoints = Infinity;
  let leaderDown = null; // [from, to] of the window mehdb-0 is stopped
  const writeFailures = []; // times of failed writes
  const reader = (async () => {
    for (let n = 0; running; n++) {
      const key = `seed${n % 20}`;
      const r = await cluster.curlAsync("-f", `mehdb-read:9876/get/${key}`);
      reads++;
      if (!r.ok || r.out !== key) readErrors.push(`${new Date().toISOString()} get ${key}: ${r.err || r.out}`);
    }
  })();
  const writer = (async () => {
    for (let n = 0; running; n++) {
      const key = `roll${n}`;
      const r = await cluster.curlAsync("-f", "-XPUT", "--data-binary", `v${n}`, `mehdb-leader:9876/set/${key}`);
      if (r.ok && r.out === "WRITE completed") acked.set(key, `v${n}`);
      else { writeFailures.push(Date.now()); await sleep(50); }
    }
  })();
  const monitor = setInterval(() => {
    minReadEndpoints = Math.min(minReadEndpoints, cluster.readyEndpoints("mehdb-read").length);
  }, 20);
  try {
    await sleep(500);
    for (const i of [2, 1, 0]) {
      const t0 = Date.now();
      const r = await cluster.stop(i);
      assert.equal(r.signal, null, `mehdb-${i} exits on SIGTERM by itself\n${logs()}`);
      assert.ok(r.ms < r.grace, `mehdb-${i} stopped after ${r.ms} ms (grace ${r.grace} ms)`);
      await cluster.start(i);
      await cluster.waitReady([i]);
      if (i === 0) leaderDown = [t0, Date.now()];
      t.diagnostic(`mehdb-${i}: stopped in ${r.ms} ms, Ready again ${Date.now() - t0} ms after its deletion`);
      await sleep(500);
    }
    await sleep(1000); // writes succeed again after mehdb-0 is back
  } finally {
    running = false;
    clearInterval(monitor);
    await Promise.all([reader, writer]);
  }
  t.diagnostic(`${reads} reads through mehdb-read, ${acked.size} writes acknowledged`);
  assert.deepEqual(readErrors, [], `reads through mehdb-read failed:\n${readErrors.join("\n")}\n${logs()}`);
  assert.ok(minReadEndpoints >= 1, "mehdb-read always had a ready endpoint");
  const outside = writeFailures.filter((w) => w < leaderDown[0] || w > leaderDown[1] + 200);
  assert.deepEqual(outside, [], "writes failed only while mehdb-0 was down");
  if (writeFailures.length > 0) {
    t.diagnostic(`writes through mehdb-leader failed for ${writeFailures.at(-1) - writeFailures[0]} ms ` +
      `(mehdb-0 deleted to Ready: ${leaderDown[1] - leaderDown[0]} ms)`);
  }
  // Nothing acknowledged is lost, on the leader or on any follower.
  await eventually(() => {
    for (const i of ordinals) {
      const keys = new Set(JSON.parse(curl(`mehdb-${i}.mehdb:9876/keys`)));
      for (const k of acked.keys()) assert.ok(keys.has(k), `mehdb-${i} lacks acknowledged ${k}`);
    }
  });
  for (const [k, v] of [...acked].filter((_, n) => n % 7 === 0)) assert.equal(curl(`mehdb-0.mehdb:9876/get/${k}`), v);
});

test("mehdb-0's volume lost: it recovers the data from its followers, same history", { skip }, async (t) => {
  await eventually(() => {
    for (const i of [1, 2]) assert.equal(replication(i).follower.applied_seq, replication(0).last_seq);
  });
  const before = replication(0);
  const snapshots = [1, 2].map((i) => replication(i).follower.snapshots);
  const r = await cluster.stop(0);
  assert.equal(r.signal, null);
  cluster.deleteClaims(0); // the PVC is gone: a new, empty one
  const t0 = Date.now();
  await cluster.start(0);
  // Not Ready and no writes until the data is back.
  await eventually(() => assert.equal(curl("mehdb-0.mehdb:9876/status"), "leader"));
  const early = cluster.curl("-o", "/dev/null", "-w", "%{http_code}", "-XPUT", "--data-binary", "x", "mehdb-0.mehdb:9876/set/early");
  assert.equal(early.out, "503");
  await cluster.waitReady([0]);
  t.diagnostic(`mehdb-0 Ready with its data ${Date.now() - t0} ms after starting on an empty volume`);
  const after = replication(0);
  assert.equal(after.history, before.history);
  assert.equal(after.last_seq, before.last_seq);
  for (const [k, v] of [...acked].filter((_, n) => n % 5 === 0)) assert.equal(curl(`mehdb-0.mehdb:9876/get/${k}`), v);
  assert.equal(curl("mehdb-0.mehdb:9876/status?level=full"), `${acked.size}\n`);
  assert.equal(curl("-XPUT", "--data-binary", "new", "mehdb-leader:9876/set/after-recovery"), "WRITE completed");
  await eventually(() => {
    for (const i of [1, 2]) assert.equal(curl(`mehdb-${i}.mehdb:9876/get/after-recovery`), "new");
  });
  assert.deepEqual([1, 2].map((i) => replication(i).follower.snapshots), snapshots, "followers resumed without a snapshot");
});
