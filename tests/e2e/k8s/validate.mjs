// SPDX-License-Identifier: Apache-2.0
// Validates the Kubernetes manifests in a folder offline, three ways, and writes out the
// ConfigMap's ward.yaml so that `ward check` can read it:
//   1. every document against its kind's OpenAPI schema (kubernetes-models' validators: types,
//      required fields, enums, formats);
//   2. field names exactly as the API spells them: each document becomes a TypeScript object
//      literal of its kubernetes-types type, and tsc's excess-property check refuses a field
//      the API does not have (a typo the schema validators let through);
//   3. the references between documents: selectors match the pod labels, Services target
//      ports the containers name, mounts name volumes, volumes name the ConfigMap and Secret.
// Usage: node validate.mjs MANIFEST_DIR OUT_DIR   (prints one line per check; exit 1 on failure)
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const [dir, out] = process.argv.slice(2);
if (!dir || !out) {
  console.error("usage: node validate.mjs MANIFEST_DIR OUT_DIR");
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
let failures = 0;
const fail = (what) => {
  failures++;
  console.log(`FAIL ${what}`);
};
const ok = (what) => console.log(`ok ${what}`);

// apiVersion/kind -> kubernetes-models module and kubernetes-types module.
const kinds = {
  "v1/ConfigMap": ["kubernetes-models/v1/ConfigMap", "core/v1"],
  "v1/Secret": ["kubernetes-models/v1/Secret", "core/v1"],
  "v1/Service": ["kubernetes-models/v1/Service", "core/v1"],
  "apps/v1/Deployment": ["kubernetes-models/apps/v1/Deployment", "apps/v1"],
  "policy/v1/PodDisruptionBudget": ["kubernetes-models/policy/v1/PodDisruptionBudget", "policy/v1"],
};

const docs = [];
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")).sort()) {
  for (const d of parseAllDocuments(fs.readFileSync(path.join(dir, file), "utf8"))) {
    if (d.errors.length) fail(`${file}: YAML: ${d.errors[0].message}`);
    const obj = d.toJS();
    if (obj) docs.push({ file, obj });
  }
}

// 1. The schema.
for (const { file, obj } of docs) {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const name = `${file} ${obj.kind}/${obj.metadata?.name}`;
  if (!kinds[key]) {
    fail(`${name}: no validator for ${key}`);
    continue;
  }
  const mod = await import(kinds[key][0]);
  const Model = mod[obj.kind];
  try {
    new Model(obj).validate();
    ok(`schema ${name}`);
  } catch (e) {
    fail(`schema ${name}: ${e.message}`);
  }
}

// 2. Field names, by tsc against kubernetes-types.
fs.mkdirSync(out, { recursive: true });
const imports = new Map();
let body = "";
docs.forEach(({ file, obj }, i) => {
  const entry = kinds[`${obj.apiVersion}/${obj.kind}`];
  if (!entry) return;
  if (!imports.has(entry[1])) imports.set(entry[1], new Set());
  imports.get(entry[1]).add(obj.kind);
  body += `// ${file}\nexport const doc${i}: ${obj.kind} = ${JSON.stringify(obj, null, 2)};\n`;
});
let head = "";
for (const [module, names] of imports) head += `import type { ${[...names].join(", ")} } from "kubernetes-types/${module}";\n`;
fs.writeFileSync(path.join(out, "manifests.ts"), head + body);
fs.writeFileSync(
  path.join(out, "tsconfig.json"),
  JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, module: "esnext", moduleResolution: "node", typeRoots: [], types: [],
                       baseUrl: ".", paths: { "kubernetes-types/*": [path.join(here, "node_modules/kubernetes-types/*")] } },
    files: ["manifests.ts"],
  }),
);
const tsc = spawnSync(process.execPath, [path.join(here, "node_modules/typescript/bin/tsc"), "-p", out], { encoding: "utf8" });
if (tsc.status === 0) ok(`field names of ${docs.length} documents (tsc against kubernetes-types)`);
else fail(`field names (tsc against kubernetes-types):\n${tsc.stdout}${tsc.stderr}`);

// 3. References between the documents.
const byKind = (kind) => docs.filter((d) => d.obj.kind === kind).map((d) => d.obj);
const matches = (selector, labels) => Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
for (const dep of byKind("Deployment")) {
  const name = `Deployment/${dep.metadata.name}`;
  const pod = dep.spec.template;
  if (!matches(dep.spec.selector.matchLabels, pod.metadata.labels)) fail(`${name}: selector does not match its pod labels`);
  const volumes = new Map((pod.spec.volumes ?? []).map((v) => [v.name, v]));
  for (const c of pod.spec.containers) {
    for (const m of c.volumeMounts ?? []) if (!volumes.has(m.name)) fail(`${name}: mount ${m.name} names no volume`);
    for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"])
      if (!c[probe]?.httpGet) fail(`${name}: container ${c.name} has no ${probe}`);
  }
  for (const v of volumes.values()) {
    if (v.configMap && !byKind("ConfigMap").some((m) => m.metadata.name === v.configMap.name))
      fail(`${name}: volume ${v.name} names ConfigMap ${v.configMap.name}, which is not here`);
    if (v.secret && !byKind("Secret").some((s) => s.metadata.name === v.secret.secretName))
      fail(`${name}: volume ${v.name} names Secret ${v.secret.secretName}, which is not here`);
    if (v.secret) {
      const secret = byKind("Secret").find((s) => s.metadata.name === v.secret.secretName);
      const keys = new Set(Object.keys({ ...(secret?.data ?? {}), ...(secret?.stringData ?? {}) }));
      for (const item of v.secret.items ?? []) if (!keys.has(item.key)) fail(`${name}: Secret key ${item.key} is not in the Secret`);
    }
  }
  const portNames = new Set(pod.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.name)));
  for (const svc of byKind("Service")) {
    if (!matches(svc.spec.selector, pod.metadata.labels)) continue;
    for (const p of svc.spec.ports)
      if (typeof p.targetPort === "string" && !portNames.has(p.targetPort))
        fail(`Service/${svc.metadata.name}: targetPort ${p.targetPort} is not a container port of ${name}`);
  }
  if (!byKind("Service").some((s) => matches(s.spec.selector, pod.metadata.labels))) fail(`${name}: no Service selects its pods`);
  if (!byKind("PodDisruptionBudget").some((b) => matches(b.spec.selector.matchLabels, pod.metadata.labels)))
    fail(`${name}: no PodDisruptionBudget covers its pods`);
  ok(`references of ${name}`);
}

// The ConfigMap's ward.yaml, for `ward check`.
for (const cm of byKind("ConfigMap")) {
  if (cm.data?.["ward.yaml"]) {
    fs.writeFileSync(path.join(out, "ward.yaml"), cm.data["ward.yaml"]);
    ok(`wrote ${cm.metadata.name}'s ward.yaml`);
  }
}
process.exit(failures ? 1 : 0);
