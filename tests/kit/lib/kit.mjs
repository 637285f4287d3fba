// Shared helpers for the kit tests: find kustomize, render a kustomization,
// validate objects against the Kubernetes API schemas, ask mehdbd for its
// options, and evaluate label selectors the way the API server does.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const KIT_TESTS = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const SOURCE_ROOT = path.resolve(KIT_TESTS, "..", "..");
export const KUSTOMIZE_DIR = path.join(SOURCE_ROOT, "kustomize");

// What `kubectl kustomize`/`kustomize build` need to render this kit.
// Returns {cmd, args} or {skip: reason}.
export function findKustomize() {
  const kubectl = process.env.KUBECTL || "kubectl";
  const k = spawnSync(kubectl, ["version", "--client", "-o", "json"], { encoding: "utf8" });
  if (k.status === 0) {
    const minor = parseInt(JSON.parse(k.stdout).clientVersion?.minor ?? "0", 10);
    // kubectl embeds kustomize v5 from 1.27 on.
    if (minor >= 27) return { cmd: kubectl, args: ["kustomize"] };
  }
  const z = spawnSync(process.env.KUSTOMIZE || "kustomize", ["version"], { encoding: "utf8" });
  if (z.status === 0 && /v(\d+)/.exec(z.stdout)?.[1] >= 5) {
    return { cmd: process.env.KUSTOMIZE || "kustomize", args: ["build"] };
  }
  return { skip: "needs kustomize v5: install kubectl >= 1.27 or a kustomize v5 binary" };
}

// A missing prerequisite (kubectl, npm packages, the built daemon, root)
// skips a kit test file on a developer's machine. Under CI (CI set, as
// .ci/run runs) it fails instead: .ci/install-deps installs every one, so a
// skip there would hide a suite that no longer runs.
export function skipUnlessCI(test, reason) {
  if (reason && process.env.CI) {
    test("every prerequisite of this file is there (CI is set)", () => assert.fail(reason));
  }
  return reason;
}

// Renders a kustomization directory; any stderr output (deprecation
// warnings print there as "# Warning: ...") is returned for the caller to fail on.
export function render(kz, dir) {
  const r = spawnSync(kz.cmd, [...kz.args, dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${kz.cmd} ${kz.args.join(" ")} ${dir} failed:\n${r.stderr}`);
  return { yaml: r.stdout, stderr: r.stderr };
}

// js-yaml and kubernetes-models come from `npm ci` in tests/kit; load them
// lazily so a missing install is a skip with a hint, not a crash.
export async function loadNpm() {
  try {
    const yaml = (await import("js-yaml")).default;
    return { yaml };
  } catch {
    return { skip: "npm packages missing: run `npm ci --prefix tests/kit`" };
  }
}

export function parseAll(yaml, text) {
  return yaml.loadAll(text).filter((o) => o);
}

// The model class for an object, from kubernetes-models (or the Prometheus
// Operator models for monitoring.coreos.com).
async function modelFor(obj) {
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
  const pkg = group === "monitoring.coreos.com" ? "@kubernetes-models/prometheus-operator" : "kubernetes-models";
  const mod = await import(`${pkg}/${group ? group + "/" : ""}${version}/${obj.kind}`);
  return mod[obj.kind];
}

// Validates one object. The generated validators accept unknown fields (an
// `readniessProbe` typo would pass), so every object handed to the validator
// is wrapped in a Proxy that records which keys the validator looked at: a
// key it never read is not in the schema. Objects it enumerated (label maps,
// resource lists) are free-form maps.
export async function validateObject(obj) {
  const Model = await modelFor(obj);
  const read = new Map(); // target -> Set of keys read, or "map"
  const targetOf = new WeakMap(); // proxy -> its plain object
  const wrap = (v) => {
    if (Array.isArray(v)) return v.map(wrap);
    if (!v || typeof v !== "object") return v;
    const seen = new Set();
    read.set(v, seen);
    for (const k of Object.keys(v)) v[k] = wrap(v[k]);
    const p = new Proxy(v, {
      get(t, k) { seen.add(k); return t[k]; },
      ownKeys(t) { read.set(t, "map"); return Reflect.ownKeys(t); },
    });
    targetOf.set(p, v);
    return p;
  };
  const model = new Model(structuredClone(obj));
  const errors = [];
  try {
    Model.prototype.validate.call(wrap(model));
  } catch (e) {
    errors.push(e.message);
  }
  const walk = (v, where) => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${where}/${i}`));
    if (!v || typeof v !== "object") return;
    const t = targetOf.get(v) ?? v;
    const seen = read.get(t);
    for (const k of Object.keys(t)) {
      if (seen !== "map" && seen && !seen.has(k)) errors.push(`${where}/${k}: unknown field`);
      walk(t[k], `${where}/${k}`);
    }
  };
  walk(model, "");
  return errors;
}

// mehdbd's options, from its own --help (Boost.Program_options layout:
// "  --name VALUE  text ... (default: X)" or "  -x [ --name ] ..."). Returns a
// Map of long option name (no dashes) -> its default text, or null.
export function mehdbdOptions(binary) {
  const out = execFileSync(binary, ["--help"], { encoding: "utf8" });
  const names = new Map();
  let current = null;
  for (const line of out.split("\n")) {
    const m = /^\s+(?:-\w\s+\[\s+)?--([a-z][a-z0-9-]*)/.exec(line);
    if (m) names.set((current = m[1]), null);
    else if (!/^\s/.test(line)) current = null; // a line that is not an option's
    if (current) {
      // Descriptions wrap, so the default may sit on a later line.
      const text = names.get(current) ?? "";
      names.set(current, text + " " + line.trim());
    }
  }
  if (names.size === 0) throw new Error(`no options found in \`${binary} --help\`:\n${out}`);
  for (const [k, text] of names) names.set(k, /\(default:\s*([^)]*?)\s*\)/.exec(text)?.[1] ?? null);
  return names;
}

// Label selector semantics (metav1.LabelSelector); a plain map is a Service
// selector. An empty selector matches everything — flagged by the callers.
export function selectorMatches(sel, labels) {
  if (!sel) return false;
  const ml = sel.matchLabels || sel.matchExpressions ? sel.matchLabels ?? {} : sel;
  for (const [k, v] of Object.entries(ml)) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const ok = {
      In: () => has && e.values.includes(labels[e.key]),
      NotIn: () => !has || !e.values.includes(labels[e.key]),
      Exists: () => has,
      DoesNotExist: () => !has,
    }[e.operator];
    if (!ok || !ok()) return false;
  }
  return true;
}

// Labels pod N of a StatefulSet carries: its template's plus the ones the
// StatefulSet controller adds.
export function podLabels(sts, ordinal) {
  return {
    ...(sts.spec.template.metadata?.labels ?? {}),
    "statefulset.kubernetes.io/pod-name": `${sts.metadata.name}-${ordinal}`,
    "apps.kubernetes.io/pod-index": String(ordinal),
  };
}

// Options the StatefulSet's mehdbd container sets, from args, env and the
// config file: [{opt, value, from}], value null when from the downward API.
export function containerSettings(container, configFiles) {
  const out = [];
  const args = container.args ?? [];
  for (let i = 0; i < args.length; i++) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(args[i]);
    if (!m) { out.push({ opt: null, value: args[i], from: `args[${i}]` }); continue; }
    let value = m[2];
    if (value === undefined && i + 1 < args.length && !args[i + 1].startsWith("--")) value = args[++i];
    out.push({ opt: m[1], value: value ?? "", from: `args: --${m[1]}` });
  }
  for (const e of container.env ?? []) {
    const opt = e.name.startsWith("MEHDB_") ? e.name.slice(6).toLowerCase().replaceAll("_", "-") : null;
    out.push({ opt, value: e.valueFrom ? null : e.value, env: e, from: `env ${e.name}` });
  }
  for (const [file, text] of Object.entries(configFiles)) {
    for (const line of text.split("\n")) {
      const m = /^\s*([^#=\s][^=]*?)\s*=\s*(.*?)\s*$/.exec(line);
      if (m) out.push({ opt: m[1], value: m[2], from: `config ${file}: ${m[1]}` });
    }
  }
  return out;
}

// The mehdbd binary meson hands us, if it has been built.
export function mehdbdBinary() {
  const b = process.env.MEHDBD;
  return b && existsSync(b) ? b : null;
}
