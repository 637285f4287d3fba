// A tiny "kubelet + cluster DNS" that runs a rendered StatefulSet's pods as
// local processes, so the kit's manifest is exercised for real:
//  - each pod is its manifest's command/args/env (downward API filled in),
//    started with its own hostname (UTS namespace) and its own /etc/hosts
//    (private mount namespace) as the pod's securityContext user;
//  - each pod has its own 127.0.0.x address and the same container port;
//    the hosts files stand in for cluster DNS: pod names through the headless
//    Service, Service names to the pods they select (ClusterIP ones: Ready only);
//  - volumes are directories: a PVC per claim template and pod name that
//    outlives the pod, emptyDirs and ConfigMap files made fresh per start;
//  - the manifest's startup, readiness and liveness probes are polled.
// Two deviations, both forced by running pods as processes on one host:
// container paths are mapped onto the volume directories (there is no
// container root filesystem), and every pod gets --bind=<its address>
// (pods share one network namespace, where Kubernetes gives each its own).
// Expects to run as root inside a network namespace of its own (netns.sh).
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { selectorMatches, podLabels } from "./kit.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Cluster {
  // objs: rendered objects; root: a scratch directory; binary: mehdbd.
  constructor({ objs, root, binary, namespace, domain = "cluster.local", probeScale = 0.2 }) {
    this.objs = objs;
    this.root = root;
    this.binary = binary;
    this.sts = objs.find((o) => o.kind === "StatefulSet");
    this.services = objs.filter((o) => o.kind === "Service");
    this.ns = this.sts.metadata.namespace ?? namespace;
    this.domain = domain;
    this.probeScale = probeScale;
    this.pods = new Map(); // ordinal -> Pod
    fs.mkdirSync(path.join(root, "pvc"), { recursive: true });
    fs.mkdirSync(path.join(root, "logs"), { recursive: true });
    fs.chmodSync(root, 0o755); // the pods' user must reach its volumes
    this.jumpHosts = path.join(root, "jump-hosts");
    this.writeHosts();
  }

  get name() { return this.sts.metadata.name; }
  get podSpec() { return this.sts.spec.template.spec; }
  podName(i) { return `${this.name}-${i}`; }
  ip(i) { return `127.0.0.${10 + i}`; }
  running() { return [...this.pods.values()].filter((p) => p.proc).sort((a, b) => a.i - b.i); }

  // "Cluster DNS": every pod through the governing Service, and every
  // Service name to the pods it selects (headless + publishNotReadyAddresses:
  // all of them; otherwise only Ready ones, first one for a ClusterIP).
  dnsLines() {
    const lines = [];
    const fqdn = (n) => [n, `${n}.${this.ns}`, `${n}.${this.ns}.svc`, `${n}.${this.ns}.svc.${this.domain}`];
    for (const p of this.running()) lines.push(`${this.ip(p.i)} ${fqdn(`${p.name}.${this.sts.spec.serviceName}`).join(" ")}`);
    for (const svc of this.services) {
      const headless = svc.spec.clusterIP === "None";
      const pods = this.running().filter((p) => selectorMatches(svc.spec.selector, podLabels(this.sts, p.i)) &&
        (p.ready || (headless && svc.spec.publishNotReadyAddresses)));
      for (const p of headless ? pods : pods.slice(0, 1)) lines.push(`${this.ip(p.i)} ${fqdn(svc.metadata.name).join(" ")}`);
    }
    return lines;
  }

  // Rewritten in place (same inode), so the bind mounts in running pods see it.
  writeHosts() {
    const base = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"];
    const dns = this.dnsLines();
    // The jump pod's file is mounted afresh by each curl: replaced whole, so
    // a curl starting mid-update never reads a truncated file.
    fs.writeFileSync(`${this.jumpHosts}.new`, [...base, ...dns, ""].join("\n"));
    fs.renameSync(`${this.jumpHosts}.new`, this.jumpHosts);
    for (const p of this.running()) {
      // What the kubelet writes for a pod with a hostname and subdomain.
      const own = `${this.ip(p.i)} ${p.name}.${this.sts.spec.serviceName}.${this.ns}.svc.${this.domain} ${p.name}`;
      fs.writeFileSync(p.hostsFile, [...base, own, ...dns, ""].join("\n"));
    }
  }

  // A `kubectl run jumpod ... -- curl ARGS` in the cluster: curl with the
  // cluster's names in its own /etc/hosts.
  curl(...args) {
    const r = spawnSync("unshare", ["--mount", "--", "sh", "-c", 'mount --bind "$1" /etc/hosts && shift && exec curl "$@"',
      "sh", this.jumpHosts, "-sS", "--max-time", "10", ...args], { encoding: "utf8" });
    return { ok: r.status === 0, out: r.stdout, err: r.stderr.trim(), status: r.status };
  }

  // The same, without blocking the event loop (the probes keep running):
  // for load generated while pods come and go.
  curlAsync(...args) {
    return new Promise((resolve) => {
      const p = spawn("unshare", ["--mount", "--", "sh", "-c", 'mount --bind "$1" /etc/hosts && shift && exec curl "$@"',
        "sh", this.jumpHosts, "-sS", "--max-time", "10", ...args]);
      let out = "", err = "";
      p.stdout.on("data", (d) => { out += d; });
      p.stderr.on("data", (d) => { err += d; });
      p.on("close", (status) => resolve({ ok: status === 0, out, err: err.trim(), status }));
    });
  }

  // Ready pods a Service selects (its endpoints).
  readyEndpoints(serviceName) {
    const svc = this.services.find((s) => s.metadata.name === serviceName);
    return this.running().filter((p) => p.ready && selectorMatches(svc.spec.selector, podLabels(this.sts, p.i)));
  }

  pvcDir(claim, i) { return path.join(this.root, "pvc", `${claim}-${this.podName(i)}`); }

  // `container`: run that container spec of the original mehdb 0.6 (the
  // tutorial's app.yaml) instead of the StatefulSet's, as original-standin.mjs;
  // a pod not yet replaced by a rolling update.
  async start(i, { original = null } = {}) {
    if (this.pods.get(i)?.proc) throw new Error(`${this.podName(i)} is already running`);
    const pod = original ? new OriginalPod(this, i, original) : new Pod(this, i);
    this.pods.set(i, pod);
    pod.launch();
    this.writeHosts();
    pod.probeLoop();
    return pod;
  }

  // `kubectl delete pod`: SIGTERM, SIGKILL after the grace period.
  async stop(i) {
    const pod = this.pods.get(i);
    const grace = (this.podSpec.terminationGracePeriodSeconds ?? 30) * 1000;
    const t0 = Date.now();
    pod.ready = false;
    this.writeHosts();
    const code = await pod.terminate(grace);
    this.pods.delete(i);
    this.writeHosts();
    return { ...code, ms: Date.now() - t0, grace };
  }

  // Scale-down with persistentVolumeClaimRetentionPolicy.whenScaled: Delete.
  deleteClaims(i) {
    for (const c of this.sts.spec.volumeClaimTemplates ?? []) fs.rmSync(this.pvcDir(c.metadata.name, i), { recursive: true, force: true });
  }

  async waitReady(ordinals, timeoutMs = 60000) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const pods = ordinals.map((i) => this.pods.get(i));
      const bad = pods.find((p) => p?.failure);
      if (bad) throw new Error(`${bad.name}: ${bad.failure}\n${bad.logTail()}`);
      if (pods.every((p) => p?.ready)) return;
      if (Date.now() > end) {
        const p = pods.find((x) => !x?.ready);
        throw new Error(`${p.name} not Ready after ${timeoutMs} ms (last readiness: ${p.lastProbe.readinessProbe})\n${p.logTail()}`);
      }
      await sleep(100);
    }
  }

  // `kubectl get sts,po,pvc,svc`, roughly.
  table() {
    const rows = [`statefulset/${this.name} replicas=${this.running().length}`];
    for (const p of this.running()) rows.push(`pod/${p.name} ${p.ready ? "1/1" : "0/1"} ${this.ip(p.i)} restarts=${p.livenessKills}`);
    for (const d of fs.readdirSync(path.join(this.root, "pvc"))) rows.push(`pvc/${d} Bound`);
    for (const s of this.services) rows.push(`service/${s.metadata.name} ${s.spec.clusterIP === "None" ? "None" : "ClusterIP"}`);
    return rows;
  }

  async shutdown() {
    await Promise.all(this.running().map((p) => p.terminate(5000)));
  }
}

class Pod {
  constructor(cluster, i) {
    this.c = cluster;
    this.i = i;
    this.name = cluster.podName(i);
    this.dir = path.join(cluster.root, "pods", this.name);
    this.hostsFile = path.join(this.dir, "hosts");
    this.logFile = path.join(cluster.root, "logs", `${this.name}.log`); // kept across restarts
    this.configFiles = [];
    this.ready = false;
    this.started = false;
    this.failure = null;
    this.livenessKills = 0;
    this.lastProbe = {};
  }

  get container() { return this.c.podSpec.containers[0]; }

  // Volumes -> host directories; returns [{mountPath, host}] longest first.
  makeVolumes() {
    const spec = this.c.podSpec;
    const sc = spec.securityContext ?? {};
    // Like a volume with fsGroup: group-owned, group-writable, setgid.
    const own = (p) => { fs.chownSync(p, sc.runAsUser ?? 0, sc.fsGroup ?? sc.runAsGroup ?? 0); fs.chmodSync(p, 0o2775); };
    fs.rmSync(this.dir, { recursive: true, force: true }); // a new pod: fresh emptyDirs
    this.configFiles = [];
    fs.mkdirSync(this.dir, { recursive: true });
    const claims = (this.c.sts.spec.volumeClaimTemplates ?? []).map((t) => t.metadata.name);
    const table = [];
    for (const m of this.container.volumeMounts ?? []) {
      let host;
      if (claims.includes(m.name)) {
        const pvc = this.c.pvcDir(m.name, this.i);
        if (!fs.existsSync(pvc)) { fs.mkdirSync(pvc, { mode: 0o2775 }); own(pvc); } // provisioned + fsGroup
        host = path.join(pvc, m.subPath ?? "");
        if (!fs.existsSync(host)) { fs.mkdirSync(host, { recursive: true, mode: 0o2775 }); own(host); }
      } else {
        const vol = spec.volumes.find((v) => v.name === m.name);
        const vdir = path.join(this.dir, "volumes", vol.name);
        if (!fs.existsSync(vdir)) {
          fs.mkdirSync(vdir, { recursive: true, mode: 0o2775 });
          own(vdir);
          if (vol.configMap) this.writeConfigMap(vol.configMap, vdir);
          else if (!vol.emptyDir) throw new Error(`volume ${vol.name}: only PVCs, emptyDir and configMap are emulated`);
        }
        host = path.join(vdir, m.subPath ?? "");
      }
      table.push({ mountPath: m.mountPath, host });
    }
    return table.sort((a, b) => b.mountPath.length - a.mountPath.length);
  }

  writeConfigMap(ref, dir) {
    const cm = this.c.objs.find((o) => o.kind === "ConfigMap" && o.metadata.name === ref.name);
    if (!cm) throw new Error(`ConfigMap ${ref.name} not rendered`);
    const items = ref.items ?? Object.keys(cm.data ?? {}).map((key) => ({ key, path: key }));
    for (const { key, path: p } of items) {
      fs.writeFileSync(path.join(dir, p), cm.data[key], { mode: 0o644 });
      this.configFiles.push(path.join(dir, p));
    }
  }

  // Container path -> host path through the mount table.
  mapPath(p, mounts) {
    const m = mounts.find((x) => p === x.mountPath || p.startsWith(x.mountPath.replace(/\/?$/, "/")));
    return m ? path.join(m.host, p.slice(m.mountPath.length)) : p;
  }

  // Downward API values a kubelet would fill in.
  fieldRef(fieldPath) {
    const meta = { "metadata.name": this.name, "metadata.namespace": this.c.ns, "status.podIP": this.c.ip(this.i),
      "status.hostIP": "127.0.0.1", "spec.nodeName": "kit-node", "spec.serviceAccountName": "default" };
    const label = /^metadata\.labels\['(.+)'\]$/.exec(fieldPath);
    if (label) return podLabels(this.c.sts, this.i)[label[1]] ?? "";
    if (!(fieldPath in meta)) throw new Error(`downward API field ${fieldPath} is not emulated`);
    return meta[fieldPath];
  }

  launch() {
    const mounts = this.makeVolumes();
    const map = (v) => (v.startsWith("/") ? this.mapPath(v, mounts) : v);
    // Paths inside the mounted config files are container paths too.
    for (const f of this.configFiles) {
      fs.writeFileSync(f, fs.readFileSync(f, "utf8").replace(/^(\s*[^#=\s][^=]*=\s*)(\/\S*)/gm, (_, k, v) => k + map(v)));
    }
    const c = this.container;
    const args = (c.args ?? []).map((a) => a.replace(/^(--[^=]+=)?(\/.*)$/, (_, k, v) => (k ?? "") + map(v)));
    args.push(`--bind=${this.c.ip(this.i)}`); // deviation: shared network namespace
    const env = { PATH: process.env.PATH, HOSTNAME: this.name };
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = map(e.value);
      else if (e.valueFrom?.fieldRef) env[e.name] = this.fieldRef(e.valueFrom.fieldRef.fieldPath);
      else throw new Error(`env ${e.name}: only value and fieldRef are emulated`);
    }
    if (c.command && !/mehdbd$/.test(c.command[0])) throw new Error(`command ${c.command[0]} is not mehdbd`);
    fs.writeFileSync(this.hostsFile, "");
    const sc = { ...this.c.podSpec.securityContext, ...c.securityContext };
    const user = [`--reuid=${sc.runAsUser}`, `--regid=${sc.runAsGroup}`, `--groups=${sc.fsGroup ?? sc.runAsGroup}`];
    if (sc.allowPrivilegeEscalation === false) user.push("--no-new-privs");
    const log = fs.openSync(this.logFile, "a");
    this.proc = spawn("unshare", ["--uts", "--mount", "--", "sh", "-c",
      'hostname "$1" && mount --bind "$2" /etc/hosts && shift 2 && exec "$@"', "sh", this.name, this.hostsFile,
      "setpriv", ...user, "--", ...this.program(args)],
    { env, cwd: "/", stdio: ["ignore", log, log] });
    fs.closeSync(log);
    this.exited = new Promise((resolve) => this.proc.on("exit", (code, signal) => {
      this.proc = null;
      this.ready = false;
      if (!this.stopping) this.failure = `exited unexpectedly (code ${code}, signal ${signal})`;
      resolve({ code, signal });
    }));
  }

  // The container's process and its arguments.
  program(args) { return [this.c.binary, ...(this.container.command?.slice(1) ?? []), ...args]; }

  async terminate(graceMs) {
    if (!this.proc) return { code: null, signal: null, alreadyDown: true };
    this.stopping = true;
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => this.proc?.kill("SIGKILL"), graceMs);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }

  // One probe: an HTTP GET to the pod's address, success on 200-399.
  async probeOnce(kind) {
    const p = this.container[kind];
    if (!p) return true;
    const g = p.httpGet;
    if (!g) throw new Error(`${kind}: only httpGet probes are emulated`);
    const port = typeof g.port === "number" ? g.port : this.container.ports.find((x) => x.name === g.port).containerPort;
    try {
      const r = await fetch(`http://${this.c.ip(this.i)}:${port}${g.path}`, {
        redirect: "manual", signal: AbortSignal.timeout((p.timeoutSeconds ?? 1) * 1000) });
      this.lastProbe[kind] = `${r.status}`;
      return r.status >= 200 && r.status < 400;
    } catch (e) {
      this.lastProbe[kind] = e.cause?.code ?? e.name;
      return false;
    }
  }

  // The kubelet's probe workers, periods scaled by probeScale.
  async probeLoop() {
    const c = this.container;
    const period = (p) => (p?.periodSeconds ?? 10) * 1000 * this.c.probeScale;
    const su = c.startupProbe;
    for (let fails = 0; this.proc && su;) {
      if (await this.probeOnce("startupProbe")) break;
      if (++fails >= (su.failureThreshold ?? 3)) { this.failure = `startup probe failed ${fails} times`; return; }
      await sleep(period(su));
    }
    this.started = true;
    const worker = async (kind, onResult) => {
      const p = c[kind];
      if (!p) return onResult(true, 0);
      await sleep(((p.initialDelaySeconds ?? 0) * 1000) * this.c.probeScale);
      for (let fails = 0; this.proc;) {
        const ok = await this.probeOnce(kind);
        fails = ok ? 0 : fails + 1;
        if (this.proc) onResult(ok, fails, p.failureThreshold ?? 3);
        await sleep(period(p));
      }
    };
    worker("readinessProbe", (ok, fails, threshold) => {
      const ready = ok || (this.ready && fails < threshold);
      if (ready !== this.ready) { this.ready = ready; this.c.writeHosts(); }
    });
    worker("livenessProbe", (ok, fails, threshold) => {
      // A kubelet would restart the container; record it so a test can fail.
      if (!ok && fails >= threshold) { this.livenessKills++; this.failure ??= `liveness probe failed ${fails} times`; }
    });
  }

  logTail(n = 15) {
    try { return fs.readFileSync(this.logFile, "utf8").trim().split("\n").slice(-n).map((l) => `  ${this.name}| ${l}`).join("\n"); } catch { return ""; }
  }
}

// A pod still running the original (see Cluster.start): the tutorial's
// container spec (its env, mounts and probes), run as the stand-in.
const ORIGINAL_STANDIN = path.join(path.dirname(fileURLToPath(import.meta.url)), "original-standin.mjs");
class OriginalPod extends Pod {
  constructor(cluster, i, container) {
    super(cluster, i);
    this.originalContainer = container;
  }

  get container() { return this.originalContainer; }
  program(args) { return [process.execPath, ORIGINAL_STANDIN, ...args]; }
}
