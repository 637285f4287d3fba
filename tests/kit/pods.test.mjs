// "Pods run for real": the dev overlay's StatefulSet run as local mehdbd
// processes by lib/kubelet.mjs (own hostname, /etc/hosts, address, volume,
// probes), then the tutorial replayed against it with curl from a "jump pod":
// 2 pods up, status, set through the leader, get through mehdb-1.mehdb,
// scale to 4, delete and restart mehdb-1, stop and start the leader. Then
// the prod overlay's pods, to see its namespace reach the daemon.
// Run through netns.sh (meson does), as root.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { KUSTOMIZE_DIR, parseAll, render } from "./lib/kit.mjs";
import { eventually as retry, podPrerequisites, podTools, sleep } from "./lib/pod-test.mjs";
import { Cluster } from "./lib/kubelet.mjs";

// Flip to true once followers copy the leader's data (the peer sync issue).
// Until then the steps marked [follower data] still run, but a failure there
// is reported as a skip with its reason instead of failing the suite.
const FOLLOWER_SYNC = true;

const OVERLAY = "dev";
const NAMESPACE = "default"; // dev sets none: kubectl's current namespace

const { kz, npm, binary, skip } = await podPrerequisites(test);

const roots = [];
function newCluster(overlay) {
  const objs = parseAll(npm.yaml, render(kz, path.join(KUSTOMIZE_DIR, "overlays", overlay)).yaml);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `kit-pods-${overlay}-`));
  roots.push(root);
  return new Cluster({ objs, root, binary, namespace: NAMESPACE });
}
let cluster = skip ? null : newCluster(OVERLAY);
const root = roots[0];
after(async () => {
  await cluster?.shutdown();
  for (const r of process.env.KIT_KEEP ? [] : roots) fs.rmSync(r, { recursive: true, force: true });
});

const ordinals = (n) => Array.from({ length: n }, (_, i) => i);
const { logs, curl } = podTools(() => cluster);

// Retries until fn stops throwing (replication is asynchronous).
// Short while follower sync is not required, so the marked steps fail fast.
const eventually = (fn) => retry(fn, FOLLOWER_SYNC ? 10000 : 2000);

// A step that needs followers to hold the leader's data (see FOLLOWER_SYNC).
function followerData(name, fn) {
  test(`[follower data] ${name}`, { skip }, async (t) => {
    if (FOLLOWER_SYNC) return fn();
    try {
      await fn();
      t.diagnostic("passes already: set FOLLOWER_SYNC = true in tests/kit/pods.test.mjs");
    } catch (e) {
      t.skip(`needs peer sync (followers copying the leader), not there yet: ${e.message.split("\n")[0]}`);
    }
  });
}

const tmpValue = (text) => {
  const f = path.join(root, `value-${Date.now()}`);
  fs.writeFileSync(f, text);
  return f;
};

test("the StatefulSet's pods come up and turn Ready (kubectl apply -k overlays/dev)", { skip }, async (t) => {
  const n = cluster.sts.spec.replicas;
  assert.ok(n >= 2, "the tutorial needs mehdb-0 and mehdb-1");
  // podManagementPolicy Parallel: all at once.
  await Promise.all(ordinals(n).map((i) => cluster.start(i)));
  await cluster.waitReady(ordinals(n));
  for (const row of cluster.table()) t.diagnostic(row);
});

test("each pod knows its role: mehdb-0 leads, mehdb-1 follows", { skip }, () => {
  assert.equal(curl("mehdb-0.mehdb:9876/status"), "leader");
  assert.equal(curl("mehdb-1.mehdb:9876/status"), "follower");
  assert.equal(curl(`mehdb-1.mehdb.${NAMESPACE}.svc.cluster.local:9876/status`), "follower");
});

test("curl mehdb:9876/status?level=full answers 0", { skip }, () => {
  assert.equal(curl("mehdb:9876/status?level=full"), "0\n");
});

test("set through the leader (mehdb-leader) and through a follower's 307", { skip }, () => {
  assert.equal(curl("-XPUT", "-T", tmpValue("hello"), "mehdb-leader:9876/set/test"), "WRITE completed");
  // A follower redirects to the leader's in-cluster name, which must resolve.
  assert.equal(curl("-L", "-XPUT", "-T", tmpValue("world"), "mehdb-1.mehdb:9876/set/other"), "WRITE completed");
  assert.equal(curl("mehdb-0.mehdb:9876/get/test"), "hello");
  assert.equal(curl("mehdb-0.mehdb:9876/get/other"), "world");
  assert.equal(curl("mehdb-0.mehdb:9876/status?level=full"), "2\n");
});

followerData("get through mehdb-1.mehdb", () => eventually(() => {
  assert.equal(curl("mehdb-1.mehdb:9876/get/test"), "hello");
  assert.equal(curl("mehdb-1.mehdb:9876/status?level=full"), "2\n");
}));

test("scale to 4: the new pods start and turn Ready", { skip }, async () => {
  await Promise.all([2, 3].map((i) => cluster.start(i)));
  await cluster.waitReady(ordinals(4));
  assert.equal(curl("mehdb-3.mehdb:9876/status"), "follower");
});

followerData("the new pods catch up", () => eventually(() => {
  for (const i of [2, 3]) assert.equal(curl(`mehdb-${i}.mehdb:9876/get/other`), "world");
}));

test("delete mehdb-1: it stops within its grace period and keeps its volume", { skip }, async () => {
  const r = await cluster.stop(1);
  assert.ok(r.ms < r.grace, `stopped after ${r.ms} ms (grace ${r.grace} ms)`);
  assert.equal(r.signal, null, `mehdbd exits on SIGTERM by itself (got signal ${r.signal})\n${logs()}`);
  assert.ok(fs.readdirSync(cluster.pvcDir("data", 1)).length > 0, "data-mehdb-1 holds the store");
  assert.ok(!cluster.curl("mehdb-1.mehdb:9876/status").ok, "mehdb-1 is gone from DNS");
});

test("mehdb-1 comes back with the same name and volume", { skip }, async () => {
  await cluster.start(1);
  await cluster.waitReady([1]);
  assert.equal(curl("mehdb-1.mehdb:9876/status"), "follower");
});

followerData("mehdb-1's data is intact after the restart", () => eventually(() => {
  assert.equal(curl("mehdb-1.mehdb:9876/get/test"), "hello");
}));

test("stop the leader: followers stay live and Ready, and ask writers to retry", { skip }, async () => {
  const r = await cluster.stop(0);
  assert.equal(r.signal, null, `the leader exits on SIGTERM by itself\n${logs()}`);
  await sleep(3000); // several liveness periods (scaled) without a leader
  for (const i of [1, 2, 3]) {
    const p = cluster.pods.get(i);
    assert.equal(p.failure, null, `${p.name} liveness does not depend on the leader`);
    assert.equal(p.ready, true, `${p.name} stays Ready for reads (--max-staleness) while the leader is away`);
    assert.equal(curl(`mehdb-${i}.mehdb:9876/status`), "follower");
  }
  // A 307 would point at a leader that is not there: 503 and when to retry.
  const put = cluster.curl("-D", "-", "-o", "/dev/null", "-XPUT", "--data-binary", "x", "mehdb-2.mehdb:9876/set/down");
  assert.match(put.out, /^HTTP\/1\.1 503/, put.out);
  assert.match(put.out, /^Retry-After: \d+\r?$/mi, put.out);
});

followerData("followers serve reads while the leader is down", () => {
  for (const i of [1, 2, 3]) assert.equal(curl(`mehdb-${i}.mehdb:9876/get/test`), "hello");
});

test("start the leader again: its data is intact and it takes writes", { skip }, async () => {
  await cluster.start(0);
  await cluster.waitReady(ordinals(4));
  assert.equal(curl("mehdb-0.mehdb:9876/get/test"), "hello");
  assert.equal(curl("-XPUT", "-T", tmpValue("again"), "mehdb-leader:9876/set/after"), "WRITE completed");
});

followerData("followers carry on with the restarted leader", () => eventually(() => {
  for (const i of [1, 2, 3]) assert.equal(curl(`mehdb-${i}.mehdb:9876/get/after`), "again");
}));

test("scale back to 2: removed pods' volumes go (whenScaled: Delete)", { skip }, async () => {
  assert.equal(cluster.sts.spec.persistentVolumeClaimRetentionPolicy?.whenScaled, "Delete");
  for (const i of [3, 2]) {
    await cluster.stop(i);
    cluster.deleteClaims(i);
  }
  await cluster.waitReady([0, 1]);
  assert.equal(curl("mehdb-leader:9876/status?level=full"), "3\n");
  for (const p of cluster.pods.values()) assert.equal(p.livenessKills, 0, `${p.name} was never killed by its liveness probe`);
});

// prod sets its own namespace: the pods must learn it from the downward API,
// so a follower's redirect names the leader in that namespace.
test("prod overlay: pods come up in namespace mehdb and redirect to its leader", { skip }, async () => {
  await cluster.shutdown();
  cluster = newCluster("prod");
  const ns = cluster.ns;
  assert.equal(ns, "mehdb");
  const n = cluster.sts.spec.replicas;
  await Promise.all(ordinals(n).map((i) => cluster.start(i)));
  await cluster.waitReady(ordinals(n));
  const r = cluster.curl("-o", "/dev/null", "-w", "%{redirect_url}", "-XPUT", "--data-binary", "x", `mehdb-1.mehdb.${ns}:9876/set/k`);
  assert.equal(r.out, `http://mehdb-0.mehdb.${ns}.svc.cluster.local:9876/set/k`);
  assert.equal(curl("-L", "-XPUT", "--data-binary", "v", `mehdb-1.mehdb.${ns}:9876/set/k`), "WRITE completed");
  assert.equal(curl(`mehdb-leader.${ns}:9876/get/k`), "v");
});
