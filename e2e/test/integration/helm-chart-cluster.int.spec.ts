import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  describeWithKubeApiServer,
  startKubeControlPlane,
  type KubeControlPlane,
} from '@aion/testing';
import {
  chartDir,
  describeWithTools,
  GPU_PRESETS,
  objects,
  presetValues,
  run,
  runOk,
  template,
  tools,
  type K8sObject,
} from './fixtures/helm';

// The chart against a real kube-apiserver (etcd + kube-apiserver from the tool cache, no node):
// kubeconform -strict with JSON schemas generated from that server's OpenAPI, the server's own
// strict validation and pod security admission, then helm install / upgrade / uninstall. Without a
// kubelet no pod runs, so the hooks (which wait for their Jobs) are left out with --no-hooks.

type Schema = Record<string, unknown>;

/**
 * kubeconform schemas from the server's /openapi/v2 (what openapi2jsonschema does): one file per
 * group/version/kind, references inlined, int-or-string and quantities as either type, and every
 * object closed (additionalProperties: false) where the API server would reject unknown fields.
 */
function writeSchemas(
  openapi: { definitions: Record<string, Schema> },
  dir: string,
  kinds: Set<string>,
): void {
  const defs = openapi.definitions;
  const inline = (node: unknown, seen: string[]): unknown => {
    if (Array.isArray(node)) return node.map((n) => inline(n, seen));
    if (!node || typeof node !== 'object') return node;
    const o = node as Schema;
    if (typeof o['$ref'] === 'string') {
      const name = (o['$ref'] as string).replace('#/definitions/', '');
      if (name === 'io.k8s.apimachinery.pkg.api.resource.Quantity')
        return { oneOf: [{ type: 'string' }, { type: 'number' }] };
      if (name === 'io.k8s.apimachinery.pkg.util.intstr.IntOrString')
        return { oneOf: [{ type: 'string' }, { type: 'integer' }] };
      // Recursive definitions (JSONSchemaProps) are left open below their first level.
      if (seen.includes(name)) return {};
      return inline(defs[name], [...seen, name]);
    }
    if (o['format'] === 'int-or-string')
      return { oneOf: [{ type: 'string' }, { type: 'integer' }] };
    const out: Schema = {};
    for (const [k, v] of Object.entries(o)) {
      if (k.startsWith('x-kubernetes-')) continue;
      out[k] =
        k === 'properties'
          ? Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, inline(s, seen)]))
          : inline(v, seen);
    }
    if (out['properties'] && out['additionalProperties'] === undefined)
      out['additionalProperties'] = false;
    return out;
  };
  for (const [name, def] of Object.entries(defs)) {
    const gvks = def['x-kubernetes-group-version-kind'] as
      { group: string; version: string; kind: string }[] | undefined;
    for (const gvk of gvks ?? []) {
      const apiVersion = gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
      if (!kinds.has(`${apiVersion}/${gvk.kind}`)) continue;
      const group = gvk.group || gvk.version;
      mkdirSync(path.join(dir, group, gvk.version), { recursive: true });
      writeFileSync(
        path.join(dir, group, gvk.version, `${gvk.kind.toLowerCase()}.json`),
        JSON.stringify(inline(def, [name])),
      );
    }
  }
}

describeWithTools(
  'the Helm chart on a real Kubernetes API server',
  ['helm', 'kubectl', 'kubeconform'],
  () => {
    describeWithKubeApiServer('kube-apiserver', (binary) => {
      let plane: KubeControlPlane;
      let scratch: string;
      let kubeconfig: string;
      const schemas = () => path.join(scratch, 'schemas');
      const kubectl = (args: string[], input?: string) =>
        run(tools.kubectl!, ['--kubeconfig', kubeconfig, ...args], input);
      const helm = (args: string[]) => run(tools.helm!, ['--kubeconfig', kubeconfig, ...args]);
      const kubectlOk = (args: string[]) =>
        runOk(tools.kubectl!, ['--kubeconfig', kubeconfig, ...args]);
      const helmOk = (args: string[]) => runOk(tools.helm!, ['--kubeconfig', kubeconfig, ...args]);
      const variants: [string, string[]][] = [
        ['default', []],
        ...GPU_PRESETS.map((p): [string, string[]] => [p, [presetValues(p)]]),
        ['co-located', ['--set', 'profile=co-located']],
      ];
      const renderedText = (args: string[], namespace = 'aion') => {
        const files = args.filter((_, i) => args[i - 1] === '-f');
        const set = args.filter((_, i) => args[i - 1] === '--set');
        const r = template({ files, set, namespace });
        if (r.status !== 0) throw new Error(r.stderr);
        return r.stdout;
      };

      beforeAll(async () => {
        plane = await startKubeControlPlane(binary);
        scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-helm-'));
        kubeconfig = path.join(scratch, 'kubeconfig');
        writeFileSync(kubeconfig, plane.kubeConfig.exportConfig());
        const openapi = JSON.parse(kubectlOk(['get', '--raw', '/openapi/v2']));
        const kinds = new Set<string>();
        for (const [, args] of variants)
          for (const o of objects(renderedText(args))) kinds.add(`${o.apiVersion}/${o.kind}`);
        writeSchemas(openapi, schemas(), kinds);
        for (const ns of ['aion', 'aion-dry']) {
          kubectlOk(['create', 'namespace', ns]);
          // Pod security admission checks every pod template against "restricted" and warns.
          kubectlOk([
            'label',
            'namespace',
            ns,
            'pod-security.kubernetes.io/enforce=restricted',
            'pod-security.kubernetes.io/warn=restricted',
          ]);
        }
      }, 120_000);

      afterAll(async () => {
        await plane?.stop();
        if (scratch) rmSync(scratch, { recursive: true, force: true });
      });

      const kubeconform = (manifest: string) =>
        run(
          tools.kubeconform!,
          [
            '-strict',
            '-summary',
            '-schema-location',
            `${schemas()}/{{ .Group }}/{{ .ResourceAPIVersion }}/{{ .ResourceKind }}.json`,
            '-',
          ],
          manifest,
        );

      it.each(variants)(
        'kubeconform -strict accepts the %s rendering (schemas from the server)',
        (_, args) => {
          const r = kubeconform(renderedText(args));
          // Skipped would mean a kind without a schema: every object must be checked.
          expect(r.stdout + r.stderr).toMatch(
            /Valid: [1-9][0-9]*, Invalid: 0, Errors: 0, Skipped: 0/,
          );
          expect(r.status).toBe(0);
        },
      );

      it('kubeconform -strict refuses an unknown field and a wrong type', () => {
        const bad = renderedText([]).replace(
          'revisionHistoryLimit: 5',
          'revisionHistoryLimit: five\n  replicaz: 2',
        );
        const r = kubeconform(bad);
        expect(r.status).not.toBe(0);
        expect(r.stdout).toMatch(/replicaz/);
      });

      it.each(variants)(
        'kubectl apply --dry-run=server --validate=strict accepts the %s rendering, no pod security warning',
        (_, args) => {
          const r = kubectl(
            ['apply', '--dry-run=server', '--validate=strict', '-n', 'aion-dry', '-f', '-'],
            renderedText(args, 'aion-dry'),
          );
          expect(r.stderr).toBe('');
          expect(r.status).toBe(0);
          expect(r.stdout).toMatch(/deployment.apps\/aion-gateway|deployment.apps\/aion-core/);
        },
      );

      it('the server refuses an unknown field, and warns about a pod that breaks the restricted standard', () => {
        const unknown = renderedText([], 'aion-dry').replace(
          'revisionHistoryLimit: 5',
          'revisionHistoryLimit: 5\n  replicaz: 2',
        );
        const r = kubectl(
          ['apply', '--dry-run=server', '--validate=strict', '-n', 'aion-dry', '-f', '-'],
          unknown,
        );
        expect(r.status).not.toBe(0);
        expect(r.stderr).toMatch(/unknown field "spec.replicaz"/);
        const privileged = template({
          namespace: 'aion-dry',
          set: ['containerSecurityContext.allowPrivilegeEscalation=true'],
        });
        const p = kubectl(
          ['apply', '--dry-run=server', '--validate=strict', '-n', 'aion-dry', '-f', '-'],
          privileged.stdout,
        );
        expect(p.stderr).toMatch(
          /would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false/,
        );
      });

      it('helm install creates every object, helm upgrade rolls a config change, helm uninstall removes them', () => {
        const install = helm([
          'install',
          'aion',
          chartDir,
          '-n',
          'aion',
          '--no-hooks',
          '-f',
          presetValues('cuda'),
        ]);
        expect(install.stderr).toBe('');
        expect(install.status).toBe(0);
        const manifest = helmOk(['get', 'manifest', 'aion', '-n', 'aion']);
        const expected = objects(manifest);
        expect(expected.length).toBeGreaterThan(40);
        const got = kubectl(['get', '-n', 'aion', '-f', '-', '-o', 'json'], manifest);
        expect(got.stderr).toBe('');
        const items = (JSON.parse(got.stdout) as { items?: K8sObject[] }).items ?? [
          JSON.parse(got.stdout),
        ];
        expect(items.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
          expected.map((o) => `${o.kind}/${o.metadata.name}`).sort(),
        );
        const secretBefore = JSON.parse(
          kubectlOk(['get', 'secret', 'aion-secrets', '-n', 'aion', '-o', 'json']),
        ).data;
        const checksum = () =>
          kubectlOk([
            'get',
            'deployment',
            'aion-orchestrator',
            '-n',
            'aion',
            '-o',
            'jsonpath={.spec.template.metadata.annotations.checksum/config}',
          ]);
        const before = checksum();

        const upgrade = helm([
          'upgrade',
          'aion',
          chartDir,
          '-n',
          'aion',
          '--no-hooks',
          '-f',
          presetValues('cuda'),
          '--set',
          'config.policies=summarize: {forbid: [x]}',
          '--set',
          'moduleHost.defaultPool=cuda',
        ]);
        expect(upgrade.stderr).toBe('');
        expect(upgrade.status).toBe(0);
        expect(checksum()).not.toBe(before);
        // lookup read the generated secrets back: the upgrade kept them.
        const secretAfter = JSON.parse(
          kubectlOk(['get', 'secret', 'aion-secrets', '-n', 'aion', '-o', 'json']),
        ).data;
        expect(secretAfter).toEqual(secretBefore);
        expect(
          kubectlOk([
            'get',
            'configmap',
            'aion-files',
            '-n',
            'aion',
            '-o',
            'jsonpath={.data.policies\\.yaml}',
          ]),
        ).toBe('summarize: {forbid: [x]}\n');
        expect(helm(['history', 'aion', '-n', 'aion']).stdout).toMatch(/\n2\s.*deployed/);

        // An upgrade that the schema refuses changes nothing.
        const refused = helm([
          'upgrade',
          'aion',
          chartDir,
          '-n',
          'aion',
          '--no-hooks',
          '--set',
          'moduleHost.gpus=2',
        ]);
        expect(refused.status).not.toBe(0);
        expect(helm(['history', 'aion', '-n', 'aion']).stdout).not.toMatch(/\n3\s/);

        const uninstall = helm(['uninstall', 'aion', '-n', 'aion', '--wait']);
        expect(uninstall.status).toBe(0);
        const left = kubectl(
          ['get', '-n', 'aion', '-f', '-', '-o', 'name', '--ignore-not-found'],
          manifest,
        );
        // Only the platform secrets stay (helm.sh/resource-policy: keep): the receipt key passphrase
        // must outlive a reinstall.
        expect(left.stdout.trim().split('\n')).toEqual(['secret/aion-secrets']);
        expect(helm(['list', '-n', 'aion', '-q']).stdout.trim()).toBe('');
      });
    });
  },
);
