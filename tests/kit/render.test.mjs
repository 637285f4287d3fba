// Renders every kustomization of the kit (base, each overlay, and a fixture
// with all components) and checks the result: no kustomize warnings, every
// object valid against the Kubernetes API schemas, and what schemas cannot
// see — selectors that match the pods, the governing Service, mounts, probes,
// metrics on the plain health port, who the NetworkPolicy lets in, Pod
// Security "restricted" for every pod, the backup CronJob and restore Job,
// the image name the documented build makes, and that every option the
// manifest passes is one mehdbd accepts (asked from the built binary). The
// backup component's script is run for real against a mehdbd on loopback.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import {
  KIT_TESTS, KUSTOMIZE_DIR, containerSettings, findKustomize, loadNpm, mehdbdBinary,
  mehdbdOptions, parseAll, podLabels, render, selectorMatches, skipUnlessCI, validateObject,
} from "./lib/kit.mjs";

const kz = findKustomize();
const npm = await loadNpm();
const binary = mehdbdBinary();
const skip = skipUnlessCI(test, kz.skip || npm.skip) || false;

const MEHDBD_PORT_DEFAULT = 9876;
const MEHDBD_SERVICE_DEFAULT = "mehdb";
// Probe endpoints mehdbd serves: liveness/startup are process-local, readiness
// also means "caught up" on a follower.
const PROBE_PATHS = { startupProbe: "/healthz", livenessProbe: "/healthz", readinessProbe: "/readyz" };

const subdirs = (d) => readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
const targets = [
  { name: "base", dir: path.join(KUSTOMIZE_DIR, "base") },
  ...subdirs(path.join(KUSTOMIZE_DIR, "overlays")).map((o) => ({ name: `overlays/${o}`, dir: path.join(KUSTOMIZE_DIR, "overlays", o), overlay: o })),
  ...subdirs(path.join(KIT_TESTS, "fixtures")).map((f) => ({ name: `fixtures/${f}`, dir: path.join(KIT_TESTS, "fixtures", f) })),
];

// What each shipped overlay promises beyond the common checks.
const OVERLAY_EXPECT = {
  dev: { minReplicas: 2 },                      // the tutorial's mehdb-0 and mehdb-1
  prod: { minReplicas: 3, digest: true, namespaced: true, strictSpread: true, backups: true },
  // The tutorial's two pods, on its volume layout (the import reports a
  // lost+found beside the original's keys and leaves it alone).
  "upgrade-from-0.6": { minReplicas: 2, volumeRoot: true },
};

function rendered(t) {
  if (!t.cache) {
    const r = render(kz, t.dir);
    const objs = parseAll(npm.yaml, r.yaml);
    const sts = objs.filter((o) => o.kind === "StatefulSet");
    assert.equal(sts.length, 1, "exactly one StatefulSet");
    const container = sts[0].spec.template.spec.containers.find((c) => c.name === "mehdbd");
    assert.ok(container, "a container named mehdbd");
    t.cache = { ...r, objs, sts: sts[0], container, want: OVERLAY_EXPECT[t.overlay] ?? {} };
  }
  return t.cache;
}

// The ConfigMap files a container mounts, by path inside the container.
function mountedConfigFiles({ objs, sts, container }) {
  const files = {};
  for (const m of container.volumeMounts ?? []) {
    const vol = (sts.spec.template.spec.volumes ?? []).find((v) => v.name === m.name);
    if (!vol?.configMap) continue;
    const cm = objs.find((o) => o.kind === "ConfigMap" && o.metadata.name === vol.configMap.name);
    assert.ok(cm, `ConfigMap ${vol.configMap.name} (volume ${vol.name}) is rendered`);
    // Keys become files (or the `items` paths); a subPath mounts one of them.
    const items = vol.configMap.items ?? Object.keys(cm.data ?? {}).map((key) => ({ key, path: key }));
    for (const { key, path: p } of items) {
      if (!m.subPath) files[path.posix.join(m.mountPath, p)] = cm.data[key];
      else if (m.subPath === p) files[m.mountPath] = cm.data[key];
    }
  }
  return files;
}

// The options the daemon will actually read: args, env and the --config file.
function settings(r) {
  const all = containerSettings(r.container, {});
  const cfg = all.find((s) => s.opt === "config");
  if (!cfg) return all;
  const files = mountedConfigFiles(r);
  assert.ok(cfg.value in files, `--config ${cfg.value} is a file of a mounted ConfigMap`);
  return containerSettings(r.container, { [cfg.value]: files[cfg.value] });
}
const setting = (r, opt) => settings(r).find((s) => s.opt === opt);

function daemonPort(r) {
  const s = setting(r, "port");
  return s ? Number(s.value) : MEHDBD_PORT_DEFAULT;
}

function healthPort(r) {
  return Number(setting(r, "health-port")?.value ?? 0);
}

// Where probes may go: the plain --health-port, or mehdbd's --port unless
// TLS is on (kubelet's HTTP probes cannot speak it).
function probePorts(r) {
  const ports = healthPort(r) > 0 ? [healthPort(r)] : [];
  if (!setting(r, "tls-cert")) ports.push(daemonPort(r));
  return ports;
}

// The files of a kubernetes.io/tls Secret (cert-manager's layout).
const TLS_SECRET_KEYS = { "tls-cert": "tls.crt", "tls-key": "tls.key", "tls-ca": "ca.crt" };

function resolvePort(container, port) {
  if (typeof port === "number") return port;
  const p = (container.ports ?? []).find((x) => x.name === port);
  assert.ok(p, `named port ${port} exists on the container`);
  return p.containerPort;
}

function pods(sts) {
  const n = Math.max(sts.spec.replicas ?? 1, 1);
  return Array.from({ length: n }, (_, i) => podLabels(sts, i));
}

function assertSelectsAll(sel, sts, what) {
  assert.ok(sel && Object.keys(sel).length, `${what}: selector is not empty`);
  pods(sts).forEach((labels, i) => assert.ok(selectorMatches(sel, labels), `${what}: selects pod ${sts.metadata.name}-${i}`));
}

// NetworkPolicy ingress semantics: does `np` (in namespace npNs) let a pod
// with `podLabels` in a namespace `ns` labelled `nsLabels` reach container
// port `port` of the pods it selects? (ipBlock peers are not modelled.)
function ingressAdmits(np, npNs, container, { ns, nsLabels = {}, podLabels: labels = {} }, port) {
  if (!(np.spec.policyTypes ?? ["Ingress"]).includes("Ingress")) return true;
  const portOk = (rule) => !rule.ports?.length || rule.ports.some((p) => resolvePort(container, p.port) === port);
  const peerOk = (peer) => {
    if (!peer.podSelector && !peer.namespaceSelector) return false; // ipBlock
    const nsOk = peer.namespaceSelector ? selectorMatches(peer.namespaceSelector, nsLabels) : ns === npNs;
    return nsOk && (!peer.podSelector || selectorMatches(peer.podSelector, labels));
  };
  return (np.spec.ingress ?? []).some((rule) => portOk(rule) && (!rule.from?.length || rule.from.some(peerOk)));
}

// The plain ports a Prometheus scrape config of the render points at: the
// prometheus.io/port annotation and each PodMonitor endpoint.
function scrapeTargets(r) {
  const out = [];
  const ann = r.sts.spec.template.metadata?.annotations ?? {};
  if (ann["prometheus.io/scrape"] === "true") {
    out.push({ what: "prometheus.io/port", port: Number(ann["prometheus.io/port"]), path: ann["prometheus.io/path"] ?? "/metrics", scheme: ann["prometheus.io/scheme"] ?? "http" });
  }
  for (const pm of r.objs.filter((o) => o.kind === "PodMonitor")) {
    for (const ep of pm.spec.podMetricsEndpoints ?? []) {
      out.push({ what: `PodMonitor ${pm.metadata.name}`, port: resolvePort(r.container, ep.port ?? ep.targetPort), path: ep.path ?? "/metrics", scheme: ep.scheme ?? "http" });
    }
  }
  return out;
}

// Pod Security "restricted" (and least privilege) for one pod spec.
function restrictedPod(spec, what) {
  const psc = spec.securityContext ?? {};
  for (const f of ["hostNetwork", "hostPID", "hostIPC"]) assert.ok(!spec[f], `${what}: ${f} unset`);
  assert.equal(spec.automountServiceAccountToken, false, `${what}: no service account token`);
  assert.equal(psc.fsGroupChangePolicy, "OnRootMismatch", `${what}: no recursive chown on each start`);
  for (const f of ["runAsUser", "runAsGroup", "fsGroup"]) assert.ok(Number.isInteger(psc[f]) && psc[f] > 0, `${what}: pod ${f} is a non-root number`);
  const allowed = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret", "name"];
  for (const v of spec.volumes ?? []) for (const k of Object.keys(v)) assert.ok(allowed.includes(k), `${what}: volume ${v.name}: ${k} not allowed`);
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    const sc = c.securityContext ?? {};
    const eff = (f) => sc[f] ?? psc[f];
    assert.equal(eff("runAsNonRoot"), true, `${c.name}: runAsNonRoot`);
    assert.notEqual(eff("runAsUser"), 0, `${c.name}: runAsUser not 0`);
    assert.ok(["RuntimeDefault", "Localhost"].includes(eff("seccompProfile")?.type), `${c.name}: seccompProfile`);
    assert.equal(sc.allowPrivilegeEscalation, false, `${c.name}: allowPrivilegeEscalation false`);
    assert.ok(!sc.privileged, `${c.name}: not privileged`);
    assert.ok(sc.capabilities?.drop?.includes("ALL"), `${c.name}: drops ALL capabilities`);
    assert.ok((sc.capabilities?.add ?? []).every((x) => x === "NET_BIND_SERVICE"), `${c.name}: adds no capabilities`);
    assert.equal(sc.readOnlyRootFilesystem, true, `${c.name}: read-only root filesystem`);
    assert.ok((c.ports ?? []).every((p) => !p.hostPort), `${c.name}: no hostPort`);
  }
}

// Each check takes a rendered kustomization {yaml, stderr, objs, sts, container}.
const CHECKS = {
  "renders without warnings": (r) => {
    assert.equal(r.stderr.trim(), "", "kustomize printed warnings");
  },

  "every object matches the Kubernetes API schemas": async (r) => {
    for (const o of r.objs) {
      assert.deepEqual(await validateObject(o), [], `${o.kind}/${o.metadata?.name}`);
    }
  },

  "every selector matches the pod template": (r) => {
    const { objs, sts } = r;
    const tpl = sts.spec.template;
    assert.ok(selectorMatches(sts.spec.selector, tpl.metadata.labels), "StatefulSet selector matches its template");
    for (const svc of objs.filter((o) => o.kind === "Service")) {
      const sel = svc.spec.selector;
      if (sel?.["statefulset.kubernetes.io/pod-name"]) {
        // A per-pod Service (mehdb-leader): exactly the ordinal-0 pod.
        const hits = pods(sts).map((l, i) => selectorMatches(sel, l) && i).filter((i) => i !== false);
        assert.deepEqual(hits, [0], `Service ${svc.metadata.name} selects only ${sts.metadata.name}-0`);
      } else {
        assertSelectsAll(sel, sts, `Service ${svc.metadata.name}`);
      }
    }
    for (const pdb of objs.filter((o) => o.kind === "PodDisruptionBudget")) {
      assertSelectsAll(pdb.spec.selector, sts, `PDB ${pdb.metadata.name}`);
      assert.ok(pdb.spec.maxUnavailable !== undefined && pdb.spec.minAvailable === undefined,
        "PDB uses maxUnavailable (minAvailable blocks drains of small installs)");
    }
    for (const np of objs.filter((o) => o.kind === "NetworkPolicy")) {
      assertSelectsAll(np.spec.podSelector, sts, `NetworkPolicy ${np.metadata.name}`);
      const peers = (rules, key) => rules.flatMap((r) => r[key] ?? []).filter((p) => p.podSelector);
      const allPods = (p) => pods(sts).every((l) => selectorMatches(p.podSelector, l));
      assert.ok(peers(np.spec.ingress ?? [], "from").some(allPods), "NetworkPolicy lets mehdb pods reach each other");
      if (np.spec.policyTypes?.includes("Egress")) assert.ok(peers(np.spec.egress ?? [], "to").some(allPods), "NetworkPolicy egress reaches mehdb pods");
    }
    for (const pm of objs.filter((o) => o.kind === "PodMonitor")) assertSelectsAll(pm.spec.selector, sts, `PodMonitor ${pm.metadata.name}`);
    const aff = tpl.spec.affinity ?? {};
    for (const kind of ["podAffinity", "podAntiAffinity"]) {
      const a = aff[kind] ?? {};
      const terms = [...(a.requiredDuringSchedulingIgnoredDuringExecution ?? []),
        ...(a.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((w) => w.podAffinityTerm)];
      terms.forEach((term, i) => assertSelectsAll(term.labelSelector, sts, `${kind} term ${i}`));
    }
    (tpl.spec.topologySpreadConstraints ?? []).forEach((c, i) => assertSelectsAll(c.labelSelector, sts, `topologySpreadConstraints[${i}]`));
  },

  "serviceName names the headless Service the daemon uses": (r) => {
    const name = r.sts.spec.serviceName;
    const svc = r.objs.find((o) => o.kind === "Service" && o.metadata.name === name);
    assert.ok(svc, `Service ${name} is rendered`);
    assert.equal(svc.spec.clusterIP, "None", "governing Service is headless");
    assert.equal(svc.spec.publishNotReadyAddresses, true, "peers resolve before they are Ready");
    assertSelectsAll(svc.spec.selector, r.sts, `Service ${name}`);
    assert.equal(setting(r, "service")?.value ?? MEHDBD_SERVICE_DEFAULT, name, "mehdbd --service derives the leader's DNS name from the same Service");
    for (const s of r.objs.filter((o) => o.kind === "Service")) {
      for (const p of s.spec.ports) {
        // Each Service port lands on a port mehdbd listens on: the client
        // port, or (port "peer") the peer-sync port.
        const want = p.name === "peer" ? Number(setting(r, "peer-port")?.value ?? 9877) : daemonPort(r);
        assert.equal(resolvePort(r.container, p.targetPort ?? p.port), want, `Service ${s.metadata.name} port ${p.name} reaches mehdbd`);
      }
    }
  },

  "mounts, data directory and config file": (r) => {
    const spec = r.sts.spec;
    const claims = (spec.volumeClaimTemplates ?? []).map((c) => c.metadata.name);
    const vols = (spec.template.spec.volumes ?? []).map((v) => v.name);
    const mounts = r.container.volumeMounts ?? [];
    for (const m of mounts) assert.ok(claims.includes(m.name) || vols.includes(m.name), `mount ${m.name} names a volume or claim template`);
    for (const c of claims) assert.ok(mounts.some((m) => m.name === c), `claim template ${c} is mounted`);
    const datadir = setting(r, "datadir");
    assert.ok(datadir?.value?.startsWith("/"), "--datadir is set to an absolute path (its default ./data is on the read-only root)");
    const under = (p, m) => p === m.mountPath || p.startsWith(m.mountPath.replace(/\/?$/, "/"));
    const dm = mounts.filter((m) => under(datadir.value, m)).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
    assert.ok(dm && claims.includes(dm.name), `data dir ${datadir.value} is on a PersistentVolumeClaim`);
    assert.ok(dm.subPath || datadir.value !== dm.mountPath || r.want?.volumeRoot,
      "data dir is a sub-directory of the volume (keeps lost+found out)");
    assert.ok(!dm.readOnly, "data mount is writable");
  },

  "probes use mehdbd's endpoints on its port": (r) => {
    const http = (r.container.ports ?? []).find((p) => p.containerPort === daemonPort(r));
    assert.ok(http, `a container port is mehdbd's --port ${daemonPort(r)}`);
    const ports = probePorts(r);
    for (const port of ports) assert.ok((r.container.ports ?? []).some((p) => p.containerPort === port), `probe port ${port} is a container port`);
    for (const [probe, wanted] of Object.entries(PROBE_PATHS)) {
      const p = r.container[probe];
      assert.ok(p?.httpGet, `${probe} is an HTTP probe`);
      assert.equal(p.httpGet.path, wanted, `${probe} path`);
      assert.ok(ports.includes(resolvePort(r.container, p.httpGet.port)), `${probe} port is one of ${ports} (plain HTTP)`);
      assert.notEqual(p.httpGet.scheme, "HTTPS", `${probe}: the health port is plain HTTP`);
    }
  },

  "TLS: Secret files mounted read-only, probes off the TLS port": (r) => {
    const cert = setting(r, "tls-cert");
    if (!cert) return; // TLS off: nothing to check
    assert.ok(Number(setting(r, "health-port")?.value ?? 0) > 0,
      "--health-port is set: kubelet's HTTP probes cannot use the TLS port");
    const spec = r.sts.spec.template.spec;
    for (const [opt, key] of Object.entries(TLS_SECRET_KEYS)) {
      const file = setting(r, opt)?.value;
      assert.ok(file?.startsWith("/"), `--${opt} is an absolute path`);
      const mount = (r.container.volumeMounts ?? []).find((m) => path.posix.dirname(file) === m.mountPath.replace(/\/$/, ""));
      assert.ok(mount, `--${opt} ${file} is a file of a mounted volume`);
      assert.equal(mount.readOnly, true, `${mount.name} is mounted read-only`);
      const vol = (spec.volumes ?? []).find((v) => v.name === mount.name);
      assert.ok(vol?.secret?.secretName, `${mount.name} is a Secret volume`);
      // Without `items` a Secret's keys are its files.
      const item = (vol.secret.items ?? [{ key, path: key }]).find((i) => i.path === path.posix.basename(file));
      assert.equal(item?.key, key, `--${opt} reads the Secret's ${key}`);
    }
  },

  // The main port may speak TLS (components/tls) and carries the data; the
  // health port serves /metrics in plain HTTP whatever the main port does.
  "metrics are scraped from the plain health port": (r) => {
    for (const t of scrapeTargets(r)) {
      assert.ok(healthPort(r) > 0, `${t.what}: mehdbd has a --health-port to scrape`);
      assert.equal(t.port, healthPort(r), `${t.what} scrapes the health port`);
      assert.equal(t.path, "/metrics", `${t.what} path`);
      assert.equal(t.scheme, "http", `${t.what}: the health port is plain HTTP`);
      assert.ok((r.container.ports ?? []).some((p) => p.containerPort === t.port), `${t.what}: port ${t.port} is a container port`);
    }
  },

  // components/networkpolicy: peers, opted-in clients (pod or namespace
  // label) and Prometheus in the namespace `monitoring` get in, on their
  // ports only; nobody else does.
  "the NetworkPolicy admits peers, opted-in clients and scrapers, and no one else": (r) => {
    const ns = r.sts.metadata.namespace ?? "default";
    const http = daemonPort(r);
    const peer = Number(setting(r, "peer-port")?.value ?? 9877);
    const health = healthPort(r);
    for (const np of r.objs.filter((o) => o.kind === "NetworkPolicy")) {
      const admits = (src, port) => ingressAdmits(np, np.metadata.namespace ?? ns, r.container, src, port);
      const mehdbPod = { ns, podLabels: podLabels(r.sts, 1) };
      for (const port of [http, peer]) assert.ok(admits(mehdbPod, port), `mehdb pods reach each other on ${port}`);
      const stranger = { ns: "other", nsLabels: { "kubernetes.io/metadata.name": "other" }, podLabels: { app: "x" } };
      const localStranger = { ns, podLabels: { app: "x" } };
      for (const port of [http, peer, health].filter((p) => p > 0)) {
        assert.ok(!admits(stranger, port), `an unlabelled pod of another namespace is refused on ${port}`);
        assert.ok(!admits(localStranger, port), `an unlabelled pod of this namespace is refused on ${port}`);
      }
      const localClient = { ns, podLabels: { "mehdb-client": "true" } };
      const nsClient = { ns: "app", nsLabels: { "kubernetes.io/metadata.name": "app", "mehdb-client": "true" }, podLabels: { app: "web" } };
      for (const [who, src] of [["a pod labelled mehdb-client=true", localClient], ["a pod of a namespace labelled mehdb-client=true", nsClient]]) {
        assert.ok(admits(src, http), `${who} reaches the client port`);
        assert.ok(!admits(src, peer), `${who} is refused on the peer port`);
      }
      const prometheus = { ns: "monitoring", nsLabels: { "kubernetes.io/metadata.name": "monitoring" }, podLabels: { "app.kubernetes.io/name": "prometheus" } };
      for (const t of scrapeTargets(r)) assert.ok(admits(prometheus, t.port), `Prometheus in namespace monitoring reaches ${t.what} port ${t.port}`);
      if (health > 0) assert.ok(admits(prometheus, health), `Prometheus in namespace monitoring reaches the health port ${health}`);
      assert.ok(!admits(prometheus, peer) && !admits(prometheus, http), "Prometheus gets only the health port");
    }
  },

  'Pod Security "restricted" and least privilege': (r) => {
    restrictedPod(r.sts.spec.template.spec, `StatefulSet ${r.sts.metadata.name}`);
    for (const cj of r.objs.filter((o) => o.kind === "CronJob")) restrictedPod(cj.spec.jobTemplate.spec.template.spec, `CronJob ${cj.metadata.name}`);
  },

  // components/backup: the CronJob runs the kit's image against the leader
  // Service, is let in by the NetworkPolicy, is never an endpoint of a
  // mehdb Service, and writes to the claim components/backup/volume makes.
  "the backup CronJob reaches the leader and keeps its backups": (r) => {
    for (const cj of r.objs.filter((o) => o.kind === "CronJob")) {
      const pod = cj.spec.jobTemplate.spec.template;
      const c = pod.spec.containers[0];
      assert.equal(c.image, r.container.image, "the same image as the StatefulSet (it has the mehdb client)");
      assert.equal(cj.spec.concurrencyPolicy, "Forbid", "one backup at a time");
      const labels = pod.metadata?.labels ?? {};
      for (const svc of r.objs.filter((o) => o.kind === "Service")) {
        assert.ok(!selectorMatches(svc.spec.selector, labels), `Service ${svc.metadata.name} never sends clients to the backup job`);
      }
      assert.ok(!selectorMatches(r.sts.spec.selector, labels), "the StatefulSet does not claim the job's pods");
      for (const pdb of r.objs.filter((o) => o.kind === "PodDisruptionBudget")) assert.ok(!selectorMatches(pdb.spec.selector, labels), "the PDB does not count the job");
      const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
      assert.equal(env.SOURCE, "mehdb-leader", "backups come from the leader's Service");
      assert.match(c.args.join("\n"), /http:\/\/\$SOURCE:\$PORT/, "the script uses SOURCE and PORT");
      const leaderSvc = r.objs.find((o) => o.kind === "Service" && o.metadata.name === env.SOURCE);
      assert.ok(leaderSvc?.spec.ports.some((p) => p.port === Number(env.PORT)), `Service ${env.SOURCE} has port ${env.PORT}`);
      const ns = r.sts.metadata.namespace ?? "default";
      for (const np of r.objs.filter((o) => o.kind === "NetworkPolicy")) {
        assert.ok(ingressAdmits(np, np.metadata.namespace ?? ns, r.container, { ns, podLabels: labels }, daemonPort(r)),
          `NetworkPolicy ${np.metadata.name} lets the backup job reach the client port`);
      }
      const claim = pod.spec.volumes.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim.claimName;
      const pvcs = parseAll(npm.yaml, render(kz, path.join(KUSTOMIZE_DIR, "components", "backup", "volume")).yaml);
      assert.ok(pvcs.some((o) => o.kind === "PersistentVolumeClaim" && o.metadata.name === claim), `components/backup/volume makes the claim ${claim}`);
      assert.ok(!r.objs.some((o) => o.kind === "PersistentVolumeClaim"), "the backups' claim is not part of the app (deleting the app keeps it)");
      for (const v of pod.spec.volumes.filter((x) => x.secret)) assert.equal(v.secret.optional, true, `Secret ${v.secret.secretName} is optional (auth, tls)`);
    }
  },

  // components/auth: the token file must be a key of a Secret volume that
  // the kubelet keeps current (no subPath), readable by the non-root user,
  // and not nested in another mount (the ConfigMap at /etc/mehdb is
  // read-only, so no mount point could be made inside it).
  "the auth token file is a key of a mounted Secret": (r) => {
    const s = setting(r, "auth-token-file");
    if (!s) return;
    const dir = (m) => m.mountPath.replace(/\/?$/, "/");
    const mounts = r.container.volumeMounts ?? [];
    const m = mounts.filter((x) => s.value.startsWith(dir(x))).sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
    assert.ok(m, `--auth-token-file ${s.value} is inside a volume mount`);
    const spec = r.sts.spec.template.spec;
    const vol = (spec.volumes ?? []).find((v) => v.name === m.name);
    assert.ok(vol?.secret?.secretName, `mount ${m.name} is a Secret volume`);
    assert.ok(!m.subPath, "no subPath: the kubelet never updates a subPath mount when the Secret changes");
    assert.equal(m.readOnly, true, "the Secret is mounted read-only");
    const rel = s.value.slice(dir(m).length);
    const item = (vol.secret.items ?? []).find((i) => i.path === rel);
    assert.ok(vol.secret.items ? item : !rel.includes("/"), `Secret ${vol.secret.secretName} provides ${rel}`);
    const mode = item?.mode ?? vol.secret.defaultMode ?? 0o644;
    const psc = spec.securityContext ?? {};
    assert.ok((mode & 0o004) || ((mode & 0o040) && psc.fsGroup), `mode ${mode.toString(8)} lets the non-root pod user read the token`);
    const outer = mounts.find((x) => x !== m && m.mountPath.startsWith(dir(x)));
    assert.ok(!outer, `mount ${m.name} is not nested inside mount ${outer?.name}`);
  },

  "identity and namespace come from the downward API": (r) => {
    assert.equal(r.sts.spec.template.spec.enableServiceLinks, false, "no injected MEHDB_PORT=tcp://... from the mehdb Service");
    const env = (n) => (r.container.env ?? []).find((e) => e.name === n);
    assert.equal(env("MEHDB_HOST")?.valueFrom?.fieldRef?.fieldPath, "metadata.name", "MEHDB_HOST from the pod name");
    assert.equal(env("MEHDB_NAMESPACE")?.valueFrom?.fieldRef?.fieldPath, "metadata.namespace", "MEHDB_NAMESPACE from the pod's namespace");
    for (const opt of ["host", "namespace", "leader-url", "local"]) {
      const s = settings(r).filter((x) => x.opt === opt && x.value !== null);
      assert.deepEqual(s.map((x) => x.from), [], `--${opt} is never a literal`);
    }
  },
};

// Asks the built binary, so it only runs once meson has built mehdbd.
function checkOptions(r, known) {
  const seen = new Map();
  for (const s of settings(r)) {
    assert.ok(s.opt && known.has(s.opt), `${s.from}: not an option of \`mehdbd --help\``);
    assert.ok(!["help", "version"].includes(s.opt), `${s.from}: not for a daemon`);
    assert.ok(!seen.has(s.opt), `--${s.opt} set twice (${seen.get(s.opt)} and ${s.from}): precedence would decide`);
    seen.set(s.opt, s.from);
  }
}

// Every port mehdbd listens on (--port, and --peer-port once the daemon has
// it) must be a container port the governing Service exposes, or peers and
// clients cannot reach it. Trips when the daemon grows a listener the kit lacks.
function checkListeners(r, known) {
  const svc = r.objs.find((o) => o.kind === "Service" && o.metadata.name === r.sts.spec.serviceName);
  const health = Number(setting(r, "health-port")?.value ?? known.get("health-port") ?? 0);
  if (health > 0) assert.ok((r.container.ports ?? []).some((p) => p.containerPort === health), `--health-port ${health} is a container port`);
  for (const opt of ["port", "peer-port"].filter((o) => known.has(o))) {
    const port = Number(setting(r, opt)?.value ?? known.get(opt));
    assert.ok((r.container.ports ?? []).some((p) => p.containerPort === port), `--${opt} ${port} is a container port`);
    assert.ok(svc.spec.ports.some((p) => resolvePort(r.container, p.targetPort ?? p.port) === port),
      `Service ${svc.metadata.name} exposes --${opt} ${port}`);
  }
}

for (const t of targets) {
  for (const [name, check] of Object.entries(CHECKS)) {
    test(`${t.name}: ${name}`, { skip }, () => check(rendered(t)));
  }

  test(`${t.name}: every option the manifest passes is one mehdbd accepts`,
    { skip: skip || (!binary && "mehdbd is not built (meson passes its path as MEHDBD)") },
    () => checkOptions(rendered(t), mehdbdOptions(binary)));

  test(`${t.name}: every port mehdbd listens on is declared and exposed`,
    { skip: skip || (!binary && "mehdbd is not built (meson passes its path as MEHDBD)") },
    () => checkListeners(rendered(t), mehdbdOptions(binary)));

  const want = OVERLAY_EXPECT[t.overlay];
  if (want) {
    test(`${t.name}: overlay promises`, { skip }, async () => {
      const { objs, sts, container } = rendered(t);
      assert.ok((sts.spec.replicas ?? 1) >= want.minReplicas, `at least ${want.minReplicas} replicas`);
      assert.notEqual(container.image, "mehdb", "the overlay sets the image");
      if (want.digest) assert.match(container.image, /@sha256:[0-9a-f]{64}$/, "image pinned by digest");
      if (want.namespaced) {
        // The namespace (and the backups' claim) are their own kustomization
        // beside the overlay, so `kubectl delete -k` of the overlay keeps them.
        assert.ok(!objs.some((o) => ["Namespace", "PersistentVolumeClaim"].includes(o.kind)), "the overlay owns no Namespace or PVC");
        const kept = parseAll(npm.yaml, render(kz, path.join(t.dir, "persistent")).yaml);
        assert.deepEqual(kept.map((o) => o.kind).sort(), ["Namespace", "PersistentVolumeClaim"], "persistent/ renders the Namespace and the backups' PVC");
        for (const o of kept) assert.deepEqual(await validateObject(o), [], `${o.kind}/${o.metadata.name}`);
        const ns = kept.find((o) => o.kind === "Namespace");
        assert.equal(ns.metadata.labels?.["pod-security.kubernetes.io/enforce"], "restricted");
        for (const o of [...objs, ...kept.filter((x) => x !== ns)]) assert.equal(o.metadata.namespace, ns.metadata.name, `${o.kind}/${o.metadata.name} in it`);
        const cj = objs.find((o) => o.kind === "CronJob");
        if (cj) {
          const claim = cj.spec.jobTemplate.spec.template.spec.volumes.find((v) => v.persistentVolumeClaim).persistentVolumeClaim.claimName;
          assert.ok(kept.some((o) => o.kind === "PersistentVolumeClaim" && o.metadata.name === claim), `persistent/ makes the backups' claim ${claim}`);
        }
      }
      if (want.backups) assert.ok(objs.some((o) => o.kind === "CronJob" && o.metadata.name === "mehdb-backup"), "scheduled backups");
      if (want.strictSpread) {
        assert.ok(sts.spec.template.spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution, "required anti-affinity");
      }
    });
  }
}

const tlsTarget = targets.find((t) => t.name === "fixtures/tls");

test("fixtures/tls: the tls component sets mehdbd's TLS flags and moves the probes",
  { skip: skip || (!binary && "mehdbd is not built (meson passes its path as MEHDBD)") }, () => {
    const r = rendered(tlsTarget);
    const known = mehdbdOptions(binary);
    for (const opt of ["tls-cert", "tls-key", "tls-ca", "health-port"]) {
      assert.ok(known.has(opt), `--${opt} is in \`mehdbd --help\``);
      assert.ok(setting(r, opt), `the component sets --${opt}`);
    }
    const health = Number(setting(r, "health-port").value);
    assert.notEqual(health, daemonPort(r));
    assert.notEqual(health, Number(setting(r, "peer-port")?.value ?? 9877));
    for (const probe of Object.keys(PROBE_PATHS)) {
      assert.equal(resolvePort(r.container, r.container[probe].httpGet.port), health, `${probe} on the health port`);
    }
  });

// The checks must catch the bugs the field keeps shipping (KIT.md §3, §4):
// each mutation of the dev render has to make its check fail.
const devTarget = targets.find((t) => t.overlay === "dev");
const MUTATIONS = [
  ["anti-affinity selecting `app: mehdb` (the ZooKeeper tutorial bug)", "every selector matches the pod template",
    (r) => { r.sts.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector = { matchLabels: { app: "mehdb" } }; }],
  ["leader Service selecting mehdb-1", "every selector matches the pod template",
    (r) => { r.objs.find((o) => o.metadata.name === "mehdb-leader").spec.selector["statefulset.kubernetes.io/pod-name"] = "mehdb-1"; }],
  ["`readniessProbe` typo (the original app.yaml)", "every object matches the Kubernetes API schemas",
    (r) => { r.container.readniessProbe = r.container.readinessProbe; delete r.container.readinessProbe; }],
  ["readiness on /status?level=full (the original)", "probes use mehdbd's endpoints on its port",
    (r) => { r.container.readinessProbe.httpGet.path = "/status?level=full"; }],
  ["probe on a port mehdbd does not listen on", "probes use mehdbd's endpoints on its port",
    (r) => { r.container.livenessProbe.httpGet.port = 8080; }],
  ["governing Service without publishNotReadyAddresses", "serviceName names the headless Service the daemon uses",
    (r) => { delete r.objs.find((o) => o.metadata.name === r.sts.spec.serviceName).spec.publishNotReadyAddresses; }],
  ["serviceName naming a Service that does not exist", "serviceName names the headless Service the daemon uses",
    (r) => { r.sts.spec.serviceName = "mehdb-headless"; }],
  ["no --datadir (./data on the read-only root)", "mounts, data directory and config file",
    (r) => { r.container.args = r.container.args.filter((a) => !a.startsWith("--datadir")); }],
  ["data dir at the volume root", "mounts, data directory and config file",
    (r) => { delete r.container.volumeMounts.find((m) => m.name === "data").subPath; }],
  ["allowPrivilegeEscalation unset", 'Pod Security "restricted" and least privilege',
    (r) => { delete r.container.securityContext.allowPrivilegeEscalation; }],
  ["a hostPath volume", 'Pod Security "restricted" and least privilege',
    (r) => { r.sts.spec.template.spec.volumes.push({ name: "h", hostPath: { path: "/" } }); }],
  ["a literal namespace (the original's leader URL bug)", "identity and namespace come from the downward API",
    (r) => { r.container.env.find((e) => e.name === "MEHDB_NAMESPACE").value = "default"; delete r.container.env.find((e) => e.name === "MEHDB_NAMESPACE").valueFrom; }],
  ["service links on (MEHDB_PORT=tcp://...)", "identity and namespace come from the downward API",
    (r) => { delete r.sts.spec.template.spec.enableServiceLinks; }],
];

function mutated(mutate, target = devTarget) {
  const objs = structuredClone(rendered(target).objs);
  const sts = objs.find((o) => o.kind === "StatefulSet");
  const r = { ...rendered(target), objs, sts, container: sts.spec.template.spec.containers.find((c) => c.name === "mehdbd") };
  mutate(r);
  return r;
}

// The same for the tls fixture's render.
const TLS_MUTATIONS = [
  ["TLS on, probes still on the TLS port", "probes use mehdbd's endpoints on its port",
    (r) => { r.container.readinessProbe.httpGet.port = "http"; }],
  ["TLS on, no --health-port", "TLS: Secret files mounted read-only, probes off the TLS port",
    (r) => { r.container.args = r.container.args.filter((a) => !a.startsWith("--health-port")); }],
  ["TLS Secret mounted writable", "TLS: Secret files mounted read-only, probes off the TLS port",
    (r) => { delete r.container.volumeMounts.find((m) => m.name === "tls").readOnly; }],
  ["--tls-key naming a file the Secret does not have", "TLS: Secret files mounted read-only, probes off the TLS port",
    (r) => { r.container.args = r.container.args.map((a) => a.startsWith("--tls-key") ? "--tls-key=/etc/mehdb-tls/key.pem" : a); }],
  ["TLS files from a ConfigMap", "TLS: Secret files mounted read-only, probes off the TLS port",
    (r) => { const v = r.sts.spec.template.spec.volumes.find((x) => x.name === "tls"); delete v.secret; v.configMap = { name: "mehdb-config" }; }],
  ["TLS on, prometheus.io/port on the TLS port", "metrics are scraped from the plain health port",
    (r) => { r.sts.spec.template.metadata.annotations["prometheus.io/port"] = "9876"; }],
  ["TLS on, the PodMonitor scraping the TLS port", "metrics are scraped from the plain health port",
    (r) => { r.objs.find((o) => o.kind === "PodMonitor").spec.podMetricsEndpoints[0].port = "http"; }],
  ["NetworkPolicy without the monitoring namespace", "the NetworkPolicy admits peers, opted-in clients and scrapers, and no one else",
    (r) => { const np = r.objs.find((o) => o.kind === "NetworkPolicy"); np.spec.ingress = np.spec.ingress.filter((x) => !x.ports.some((p) => p.port === "health")); }],
  ["NetworkPolicy ignoring labelled namespaces", "the NetworkPolicy admits peers, opted-in clients and scrapers, and no one else",
    (r) => { const np = r.objs.find((o) => o.kind === "NetworkPolicy"); np.spec.ingress[0].from = np.spec.ingress[0].from.filter((p) => !p.namespaceSelector); }],
  ["NetworkPolicy opening the client port to every namespace", "the NetworkPolicy admits peers, opted-in clients and scrapers, and no one else",
    (r) => { r.objs.find((o) => o.kind === "NetworkPolicy").spec.ingress[0].from.push({ namespaceSelector: {} }); }],
  ["NetworkPolicy opening the peer port to scrapers", "the NetworkPolicy admits peers, opted-in clients and scrapers, and no one else",
    (r) => { r.objs.find((o) => o.kind === "NetworkPolicy").spec.ingress.find((x) => x.ports.some((p) => p.port === "health")).ports.push({ port: "peer", protocol: "TCP" }); }],
];

for (const [bug, check, mutate] of TLS_MUTATIONS) {
  test(`checks catch: ${bug}`, { skip }, async () => {
    const objs = structuredClone(rendered(tlsTarget).objs);
    const sts = objs.find((o) => o.kind === "StatefulSet");
    const r = { ...rendered(tlsTarget), objs, sts, container: sts.spec.template.spec.containers.find((c) => c.name === "mehdbd") };
    await assert.doesNotReject(async () => CHECKS[check](r), "the unmutated render passes");
    mutate(r);
    await assert.rejects(async () => CHECKS[check](r), assert.AssertionError);
  });
}

for (const [bug, check, mutate] of MUTATIONS) {
  test(`checks catch: ${bug}`, { skip }, async () => {
    await assert.rejects(async () => CHECKS[check](mutated(mutate)), assert.AssertionError);
  });
}

// components/auth, rendered in the all-components fixture.
const authTarget = targets.find((t) => t.name === "fixtures/all-components");
const AUTH_CHECK = "the auth token file is a key of a mounted Secret";
const authMount = (r) => r.container.volumeMounts.find((m) => m.name === "auth");
const authVolume = (r) => r.sts.spec.template.spec.volumes.find((v) => v.name === "auth");

test("fixtures/all-components: the auth component sets the token file from Secret mehdb-auth", { skip }, () => {
  const r = rendered(authTarget);
  assert.equal(setting(r, "auth-token-file")?.value, "/etc/mehdb-auth/token");
  assert.equal(authVolume(r)?.secret?.secretName, "mehdb-auth");
  assert.deepEqual(authVolume(r).secret.items, [{ key: "token", path: "token" }]);
  assert.equal(authMount(r)?.mountPath, "/etc/mehdb-auth");
  // Probes stay open under auth, so they must not need a token header.
  for (const probe of Object.keys(PROBE_PATHS)) assert.ok(!r.container[probe].httpGet.httpHeaders, `${probe} sends no token`);
});

const AUTH_MUTATIONS = [
  ["the Secret mounted with subPath (never updated)", (r) => { authMount(r).subPath = "token"; authMount(r).mountPath = "/etc/mehdb-auth/token"; }],
  ["the token file outside the Secret mount", (r) => { r.container.args = r.container.args.map((a) => a.replace("/etc/mehdb-auth/", "/etc/mehdb/")); }],
  ["the token on an emptyDir", (r) => { const v = authVolume(r); delete v.secret; v.emptyDir = {}; }],
  ["a Secret key under another name", (r) => { authVolume(r).secret.items[0].path = "bearer"; }],
  ["a token mode the pod user cannot read", (r) => { authVolume(r).secret.defaultMode = 0o400; r.sts.spec.template.spec.securityContext.runAsUser = 10002; delete r.sts.spec.template.spec.securityContext.fsGroup; }],
  ["the Secret nested inside the read-only ConfigMap mount", (r) => {
    authMount(r).mountPath = "/etc/mehdb/auth";
    r.container.args = r.container.args.map((a) => a.replace("/etc/mehdb-auth/", "/etc/mehdb/auth/"));
  }],
];
for (const [bug, mutate] of AUTH_MUTATIONS) {
  test(`checks catch: ${bug}`, { skip }, async () => {
    assert.doesNotThrow(() => CHECKS[AUTH_CHECK](rendered(authTarget)));
    await assert.rejects(async () => CHECKS[AUTH_CHECK](mutated(mutate, authTarget)), assert.AssertionError);
  });
}

test("checks catch: a deprecated kustomize field (commonLabels)", { skip }, async () => {
  const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
  const os = await import("node:os");
  const dir = mkdtempSync(path.join(os.tmpdir(), "kit-deprecated-"));
  try {
    writeFileSync(path.join(dir, "kustomization.yaml"),
      `resources: [${JSON.stringify(path.relative(dir, path.join(KUSTOMIZE_DIR, "base")))}]\ncommonLabels: {team: x}\n`);
    assert.throws(() => CHECKS["renders without warnings"](render(kz, dir)), assert.AssertionError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("checks catch: options mehdbd does not have, set twice, or a listener the kit lacks", { skip }, () => {
  // A stand-in for `mehdbd --help` (the real one is asked above, when built).
  const known = new Map(["host", "namespace", "port", "peer-port", "health-port", "datadir", "config", "durability",
    "drain-delay", "leader-recovery", "recovery-wait"].map((o) => [o, null]));
  known.set("port", "9876");
  known.set("peer-port", "9877");
  known.set("health-port", "0");
  assert.doesNotThrow(() => checkOptions(mutated(() => {}), known));
  assert.throws(() => checkOptions(mutated((r) => r.container.env.push({ name: "MEHDB_NO_SUCH_OPTION", value: "1" })), known));
  assert.throws(() => checkOptions(mutated((r) => r.container.args.push("--no-such-option=1")), known));
  assert.throws(() => checkOptions(mutated((r) => r.container.env.push({ name: "MEHDB_PORT", value: "9876" })), known));
  assert.doesNotThrow(() => checkListeners(mutated(() => {}), known));
  assert.throws(() => checkListeners(mutated((r) => {
    r.container.ports = r.container.ports.filter((p) => p.name !== "peer");
  }), known));
  assert.throws(() => checkListeners(mutated((r) => {
    r.container.ports = r.container.ports.filter((p) => p.name !== "health");
  }), known));
});

// The name `podman build -t NAME` gives an image (docker gives the same for a
// name with a registry part): a name without a registry lands under
// localhost/, one without a tag gets :latest.
function builtImageName(name) {
  const first = name.split("/")[0];
  const hasRegistry = name.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  const full = hasRegistry ? name : `localhost/${name}`;
  return /:[^/]+$/.test(full) ? full : `${full}:latest`;
}

// Every documented image build must make the image the dev overlay runs, or
// its pods sit in ErrImagePull on kind, minikube and k3d.
test("overlays/dev: runs the image the documented build command makes", { skip }, () => {
  const dev = rendered(devTarget);
  const docs = ["README.md", "kustomize/README.md", "Containerfile"];
  const builds = docs.flatMap((f) => [...readFileSync(path.join(KUSTOMIZE_DIR, "..", f), "utf8")
    .matchAll(/(?:podman|docker) build\b[^\n]*?\s-t\s+(\S+)/g)].map((m) => ({ f, tag: m[1] })));
  assert.ok(builds.some((b) => b.f === "README.md"), "README.md has an image build command");
  for (const b of builds) assert.equal(builtImageName(b.tag), dev.container.image, `${b.f}: \`build -t ${b.tag}\``);
  const loads = readFileSync(path.join(KUSTOMIZE_DIR, "README.md"), "utf8");
  for (const tool of ["kind load", "minikube image load", "k3d image import"]) {
    assert.ok(loads.includes(`${tool} `), `kustomize/README.md says how to load it with ${tool}`);
  }
  assert.equal(builtImageName("mehdb"), "localhost/mehdb:latest", "the name podman gives `-t mehdb`");
});

// The image's OCI version label defaults to the project's version.
test("Containerfile: the OCI version label is meson.build's project version", () => {
  const root = path.join(KUSTOMIZE_DIR, "..");
  const version = /^\s*version:\s*'([^']+)'/m.exec(readFileSync(path.join(root, "meson.build"), "utf8"))?.[1];
  const cf = readFileSync(path.join(root, "Containerfile"), "utf8");
  assert.equal(/^ARG VERSION=(\S+)$/m.exec(cf)?.[1], version, "ARG VERSION");
  assert.match(cf, /org\.opencontainers\.image\.version="\$\{VERSION\}"/);
  for (const l of ["revision", "source"]) assert.match(cf, new RegExp(`org\\.opencontainers\\.image\\.${l}="\\$\\{`), `label ${l} from a build arg`);
});

// EXPOSE documents every port the kit's pods listen on.
test("Containerfile: EXPOSEs every container port of the kit", { skip }, () => {
  const cf = readFileSync(path.join(KUSTOMIZE_DIR, "..", "Containerfile"), "utf8");
  const exposed = cf.split("\n").filter((l) => l.startsWith("EXPOSE")).flatMap((l) => l.trim().split(/\s+/).slice(1)).map((p) => parseInt(p, 10));
  for (const t of targets) {
    for (const p of rendered(t).container.ports ?? []) assert.ok(exposed.includes(p.containerPort), `${t.name}: EXPOSE ${p.containerPort} (${p.name})`);
  }
});

const BACKUP_CHECK = "the backup CronJob reaches the leader and keeps its backups";
const RESTORE_DIR = path.join(KUSTOMIZE_DIR, "components", "backup", "restore");

// The restore Job of the runbooks: a valid, restricted pod that mounts the
// leader's claim exactly as the StatefulSet does (same subPath, --datadir)
// and the backups' claim read-only, and restores without serving.
test("components/backup/restore: the Job restores into mehdb-0's volume as the StatefulSet mounts it", { skip }, async () => {
  const r = render(kz, RESTORE_DIR);
  assert.equal(r.stderr.trim(), "");
  const objs = parseAll(npm.yaml, r.yaml);
  assert.deepEqual(objs.map((o) => o.kind), ["Job"]);
  for (const o of objs) assert.deepEqual(await validateObject(o), [], `${o.kind}/${o.metadata.name}`);
  const pod = objs[0].spec.template.spec;
  restrictedPod(pod, "restore Job");
  const { sts, container } = rendered(devTarget);
  const stsData = container.volumeMounts.find((m) => m.name === sts.spec.volumeClaimTemplates[0].metadata.name);
  const c = pod.containers[0];
  const mount = (claim) => {
    const vol = pod.volumes.find((v) => v.persistentVolumeClaim?.claimName === claim);
    assert.ok(vol, `a volume for claim ${claim}`);
    return c.volumeMounts.find((m) => m.name === vol.name);
  };
  const data = mount(`${stsData.name}-${sts.metadata.name}-0`);
  assert.equal(data.mountPath, stsData.mountPath);
  assert.equal(data.subPath, stsData.subPath);
  assert.ok(c.args[0].includes(`--datadir=${setting(rendered(devTarget), "datadir").value}`), "the StatefulSet's --datadir");
  for (const flag of ["--restore-from=", "--restore-force", "--restore-only"]) assert.ok(c.args[0].includes(flag), flag);
  const backupClaim = backupPod(rendered(authTarget)).spec.volumes.find((v) => v.persistentVolumeClaim).persistentVolumeClaim.claimName;
  assert.equal(mount(backupClaim).readOnly, true, "the backups are mounted read-only");
});
const backupJob = (r) => r.objs.find((o) => o.kind === "CronJob" && o.metadata.name === "mehdb-backup");
const backupPod = (r) => backupJob(r).spec.jobTemplate.spec.template;
const BACKUP_MUTATIONS = [
  ["the backup job labelled like a mehdb pod (the read Service would send clients to it)",
    (r) => { Object.assign(backupPod(r).metadata.labels, { "app.kubernetes.io/name": "mehdb", "app.kubernetes.io/instance": "mehdb" }); }],
  ["the backup job without the mehdb-client label (the NetworkPolicy drops it)",
    (r) => { delete backupPod(r).metadata.labels["mehdb-client"]; }],
  ["the backup job on another image", (r) => { backupPod(r).spec.containers[0].image = "busybox"; }],
  ["the backup job writing to a claim nobody makes",
    (r) => { backupPod(r).spec.volumes.find((v) => v.persistentVolumeClaim).persistentVolumeClaim.claimName = "backups"; }],
  ["the backups' claim rendered with the app (kubectl delete -k would take it)",
    (r) => { r.objs.push({ apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "mehdb-backups" } }); }],
  ["the backup job needing the auth Secret", (r) => { backupPod(r).spec.volumes.find((v) => v.name === "auth").secret.optional = false; }],
];
for (const [bug, mutate] of BACKUP_MUTATIONS) {
  test(`checks catch: ${bug}`, { skip }, async () => {
    assert.doesNotThrow(() => CHECKS[BACKUP_CHECK](rendered(authTarget)));
    await assert.rejects(async () => CHECKS[BACKUP_CHECK](mutated(mutate, authTarget)), assert.AssertionError);
  });
}
test("checks catch: a backup job running as root", { skip }, async () => {
  await assert.rejects(async () => CHECKS['Pod Security "restricted" and least privilege'](mutated((r) => {
    backupPod(r).spec.securityContext.runAsUser = 0;
  }, authTarget)), assert.AssertionError);
});

// The CronJob's own script, run for real: against a mehdbd on loopback
// (standing in for the mehdb-leader Service), with the built `mehdb` client,
// three times with KEEP=2; the newest backup then restores with mehdbd
// --restore-from to the same keys, seq and history.
const cli = process.env.MEHDB_CLI && (await import("node:fs")).existsSync(process.env.MEHDB_CLI) ? process.env.MEHDB_CLI : null;
test("components/backup: the CronJob's script saves backups that mehdbd restores, keeping $KEEP",
  { skip: skip || ((!binary || !cli) && "mehdbd and mehdb are not built (meson passes MEHDBD and MEHDB_CLI)") }, async () => {
    const { spawn, spawnSync } = await import("node:child_process");
    const fs = await import("node:fs");
    const os = await import("node:os");
    const net = await import("node:net");
    const c = backupPod(rendered(authTarget)).spec.containers[0];
    assert.deepEqual(c.command, ["/bin/sh", "-c"]);
    const freePort = () => new Promise((res) => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); }); });
    const [port, peer] = [await freePort(), await freePort()];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kit-backup-"));
    const daemon = spawn(binary, [`--datadir=${dir}/data`, "--bind=127.0.0.1", `--port=${port}`, `--peer-port=${peer}`, "--host=mehdb-0",
      "--leader-recovery=fresh"], { stdio: "ignore" });
    try {
      const base = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 50 && !(await fetch(`${base}/healthz`).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
      for (let i = 0; i < 20; i++) assert.equal((await fetch(`${base}/set/k${i}`, { method: "PUT", body: `v${i}` })).status, 200);
      const state = await (await fetch(`${base}/replication`)).json();
      fs.mkdirSync(`${dir}/backups`);
      const script = c.args[0].replaceAll("/backups", `${dir}/backups`);
      const env = { ...process.env, PATH: `${path.dirname(cli)}:${process.env.PATH}`, KEEP: "2", NAMESPACE: "kit",
        SOURCE: "127.0.0.1", PORT: String(port) };
      for (let run = 0; run < 3; run++) {
        if (run > 0) await new Promise((r) => setTimeout(r, 1100)); // names carry the second
        const r = spawnSync("/bin/sh", ["-c", script], { env, encoding: "utf8" });
        assert.equal(r.status, 0, `run ${run}: ${r.stdout}${r.stderr}`);
      }
      const kept = fs.readdirSync(`${dir}/backups`).sort();
      assert.equal(kept.length, 2, `KEEP=2 backups kept: ${kept}`);
      for (const f of kept) assert.match(f, /^mehdb-\d{8}T\d{6}Z\.mdb$/);
      // The restore Job's script, as the runbook runs it, for the newest
      // backup and for one named; the second replaces the first (forced).
      const job = parseAll(npm.yaml, render(kz, RESTORE_DIR).yaml)[0].spec.template.spec.containers[0];
      const restoreScript = job.args[0].replaceAll("/backups", `${dir}/backups`).replaceAll("/var/lib/mehdb", `${dir}/restored`);
      for (const backup of ["latest", kept[0]]) {
        const r = spawnSync("/bin/sh", ["-c", restoreScript], { env: { ...env, PATH: `${path.dirname(binary)}:${process.env.PATH}`, BACKUP: backup }, encoding: "utf8" });
        assert.equal(r.status, 0, r.stdout + r.stderr);
        assert.match(r.stdout, new RegExp(`restoring ${dir}/backups/${backup === "latest" ? kept[1] : kept[0]}`));
        assert.match(r.stderr + r.stdout, new RegExp(`20 keys, seq ${state.last_seq}, history ${state.history}`));
      }
    } finally {
      if (daemon.exitCode === null && daemon.signalCode === null) {
        const exited = new Promise((r) => daemon.once("exit", r));
        daemon.kill("SIGTERM");
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
// overlays/upgrade-from-0.6 against the tutorial's app.yaml: every field a
// StatefulSet cannot change must be equal, or `kubectl apply -k` over the
// tutorial's deployment is refused ("Forbidden: updates to statefulset spec
// for fields other than ..."); and the pods must find the original's data.
const upgradeTarget = targets.find((t) => t.overlay === "upgrade-from-0.6");
const tutorial = async () => {
  const { readFileSync } = await import("node:fs");
  const objs = parseAll(npm.yaml, readFileSync(path.join(KIT_TESTS, "fixtures", "tutorial-app.yaml"), "utf8"));
  return { sts: objs.find((o) => o.kind === "StatefulSet"), svc: objs.find((o) => o.kind === "Service") };
};

// The API server's view of the fields: defaults filled in as it fills them.
const IMMUTABLE = {
  "metadata.name": (s) => s.metadata.name,
  "spec.selector": (s) => s.spec.selector,
  "spec.serviceName": (s) => s.spec.serviceName,
  "spec.podManagementPolicy": (s) => s.spec.podManagementPolicy ?? "OrderedReady",
  "spec.volumeClaimTemplates": (s) => (s.spec.volumeClaimTemplates ?? []).map((c) => ({
    ...c, spec: { volumeMode: "Filesystem", ...c.spec },
  })),
};

function checkUpgrade(r, app) {
  for (const [field, get] of Object.entries(IMMUTABLE)) {
    assert.deepEqual(get(r.sts), get(app.sts), `${field} equals the tutorial's`);
  }
  // The original's pods (labelled only like app.yaml's template) stay
  // selected by every Service and the PDB while the roll runs.
  const originalPod = { ...app.sts.spec.template.metadata.labels, "statefulset.kubernetes.io/pod-name": "mehdb-0" };
  for (const o of r.objs.filter((x) => ["Service", "PodDisruptionBudget"].includes(x.kind))) {
    assert.ok(selectorMatches(o.spec.selector, originalPod), `${o.kind}/${o.metadata.name} selects the original's mehdb-0`);
  }
  // The volume root at the tutorial's path, named by MEHDB_DATADIR.
  const appContainer = app.sts.spec.template.spec.containers[0];
  const appDatadir = appContainer.env.find((e) => e.name === "MEHDB_DATADIR").value;
  const appMount = appContainer.volumeMounts.find((m) => m.name === "data");
  const mount = r.container.volumeMounts.find((m) => m.name === "data");
  assert.equal(mount?.mountPath, appMount.mountPath, "data volume mounted where app.yaml mounts it");
  assert.ok(!mount.subPath, "the volume root, not a sub-directory: the original's files are there");
  const datadir = settings(r).filter((s) => s.opt === "datadir");
  assert.deepEqual(datadir.map((s) => [s.from, s.value]), [["env MEHDB_DATADIR", appDatadir]], "MEHDB_DATADIR only");
}

test("overlays/upgrade-from-0.6: immutable fields equal the tutorial's app.yaml, field by field", { skip }, async () => {
  checkUpgrade(rendered(upgradeTarget), await tutorial());
});

const UPGRADE_MUTATIONS = [
  ["the kit's selector", (r) => { r.sts.spec.selector = { matchLabels: { "app.kubernetes.io/name": "mehdb", "app.kubernetes.io/instance": "mehdb" } }; }],
  ["podManagementPolicy Parallel", (r) => { r.sts.spec.podManagementPolicy = "Parallel"; }],
  ["another claim size", (r) => { r.sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage = "2Gi"; }],
  ["another storage class", (r) => { r.sts.spec.volumeClaimTemplates[0].spec.storageClassName = "standard"; }],
  ["labels on the claim template", (r) => { r.sts.spec.volumeClaimTemplates[0].metadata.labels = { "app.kubernetes.io/name": "mehdb" }; }],
  ["another serviceName", (r) => { r.sts.spec.serviceName = "mehdb-headless"; }],
  ["the kit's subPath mount", (r) => { const m = r.container.volumeMounts.find((x) => x.name === "data"); m.subPath = "data"; }],
  ["--datadir in the args", (r) => { r.container.args.push("--datadir=/var/lib/mehdb"); }],
  ["a Service selecting by the kit's labels only", (r) => { r.objs.find((o) => o.kind === "Service" && o.metadata.name === "mehdb").spec.selector = { "app.kubernetes.io/name": "mehdb" }; }],
];
for (const [bug, mutate] of UPGRADE_MUTATIONS) {
  test(`checks catch (upgrade-from-0.6): ${bug}`, { skip }, async () => {
    const app = await tutorial();
    assert.doesNotThrow(() => checkUpgrade(rendered(upgradeTarget), app));
    assert.throws(() => checkUpgrade(mutated(mutate, upgradeTarget), app), assert.AssertionError);
  });
}
