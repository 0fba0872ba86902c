/**
 * What can be checked of the deployment files without a container engine or a cluster (the
 * production install itself is proven by scripts/prod-install-check.mjs in CI): they parse, the
 * probes and health check use the bot's real endpoints, the shipped firebreak.yml is valid, and the
 * image runs the file the build produces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAllDocuments, parse } from 'yaml';
import { loadConfig } from '../src/config.js';

const root = resolve(import.meta.dirname, '..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed YAML, walked by the assertions
type Obj = Record<string, any>;

test('Kubernetes: readiness on /readyz, liveness on /healthz, a PDB, the Secret and the firebreak.yml ConfigMap', () => {
  const kust = parse(read('deploy/k8s/kustomization.yaml')) as Obj;
  const docs = (kust.resources as string[]).flatMap((f) => parseAllDocuments(read(`deploy/k8s/${f}`)).map((d) => d.toJS() as Obj));
  const kinds = docs.map((d) => d.kind).sort();
  assert.deepEqual(kinds, ['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Service']);
  const dep = docs.find((d) => d.kind === 'Deployment')!;
  const c = dep.spec.template.spec.containers[0];
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.ok(dep.spec.replicas >= 2);
  assert.equal(c.envFrom[0].secretRef.name, 'firebreak');
  const pdb = docs.find((d) => d.kind === 'PodDisruptionBudget')!;
  assert.deepEqual(pdb.spec.selector.matchLabels, dep.spec.template.metadata.labels);
  const svc = docs.find((d) => d.kind === 'Service')!;
  assert.deepEqual(svc.spec.selector, dep.spec.template.metadata.labels);

  // The ConfigMap's firebreak.yml is accepted by the bot, mounted where FIREBREAK_CONFIG points.
  const cm = docs.find((d) => d.kind === 'ConfigMap')!;
  const mount = c.volumeMounts.find((m: Obj) => m.name === 'config').mountPath as string;
  assert.equal(c.env.find((e: Obj) => e.name === 'FIREBREAK_CONFIG').value, `${mount}/firebreak.yml`);
  const dir = mkdtempSync(join(tmpdir(), 'firebreak-k8s-'));
  try {
    writeFileSync(join(dir, 'firebreak.yml'), cm.data['firebreak.yml']);
    assert.equal(loadConfig({ FIREBREAK_CONFIG: 'firebreak.yml' }, dir).configPath, join(dir, 'firebreak.yml'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Dockerfile: non-root, production dependencies only, HEALTHCHECK on /healthz, runs the built main', () => {
  const df = read('Dockerfile');
  assert.ok((df.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage');
  assert.match(df, /npm ci --omit=dev/);
  assert.match(df, /^USER node$/m);
  assert.match(df, /^HEALTHCHECK .*\n?.*\/healthz/m);
  const cmd = /^CMD \[(.*)\]$/m.exec(df)?.[1] ?? '';
  assert.ok(cmd.includes('"dist/bundle/main.js"'), cmd);
  // `npm start` runs the same file (scripts/start.mjs), and the build makes it.
  assert.match(read('scripts/start.mjs'), /join\(root, 'dist', 'bundle', 'main\.js'\)/);
  assert.match(read('scripts/build.mjs'), /entryPoints: \[join\(root, 'dist', 'src', 'main\.js'\)\]/);
  // The image runs node with `npm start`'s flags (young generation size, V8 worker threads): the
  // idle footprint the bench measures through `npm start` is the container's too.
  const startFlags = (JSON.parse(read('package.json')) as Obj).scripts.start.split(/\s+/).filter((a: string) => a.startsWith('--'));
  const cmdFlags = (JSON.parse(`[${cmd}]`) as string[]).filter((a) => a.startsWith('--'));
  assert.ok(startFlags.length > 0, 'npm start sets node flags');
  assert.deepEqual(cmdFlags, startFlags);
  // tsconfig.build.json compiles src/ into dist/src/ (what the bundle the CMD runs is made of).
  const build = JSON.parse(read('tsconfig.build.json')) as Obj;
  assert.deepEqual(build.include, ['src/**/*.ts']);
  assert.ok(!read('.dockerignore').split('\n').includes('assets'), 'assets/ (prompts, sandbox) reach the image');
  assert.ok(read('.dockerignore').split('\n').includes('.env'), 'a local .env never reaches the image');
});

test('compose.yaml: PostgreSQL, two replicas on it, waiting for the database', () => {
  const c = parse(read('compose.yaml')) as Obj;
  assert.ok(c.services.postgres);
  const fb = c.services.firebreak;
  assert.equal(fb.deploy.replicas, 2);
  assert.match(fb.environment.DATABASE_URL, /^postgres:\/\/.*@postgres:5432\//);
  assert.equal(fb.depends_on.postgres.condition, 'service_healthy');
});
