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
        [
          'trust policy (chart ConfigMap)',
          ['-f', path.join(chartDir, 'ci', 'trust-policy-values.yaml')],
        ],
        [
          'trust policy (existing Secret)',
          ['--set', 'moduleHost.trustPolicy.existingSecret=module-trust'],
        ],
        [
          "tenants' module secrets",
          ['--set', 'moduleHost.tenantSecrets.acme=acme-modules,moduleHost.tenantSecrets.b_2=b2'],
        ],
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

      it('the admission policy keeps sovereign-ai in its own namespaces, with no controller-manager', async () => {
        const install = helm(['install', 'aion', chartDir, '-n', 'aion', '--no-hooks']);
        expect(install.stderr).toBe('');
        expect(install.status).toBe(0);
        try {
          // What sovereign-ai's ServiceAccount may do: RBAC's ClusterRole, then the policy.
          const asSovereignAi = (args: string[], input?: string) =>
            kubectl(['--as=system:serviceaccount:aion:aion-sovereign-ai', ...args], input);
          const createDeployment = (namespace: string, dryRun = false) =>
            asSovereignAi([
              'create',
              'deployment',
              'regional-model',
              '--image=registry.local/model:1',
              '-n',
              namespace,
              ...(dryRun ? ['--dry-run=server'] : []),
            ]);
          const refusal = (namespaceOrName: string) =>
            new RegExp(
              `ValidatingAdmissionPolicy 'aion-sovereign-ai-aion' with binding 'aion-sovereign-ai-aion' denied request: sovereign-ai may only change namespaces named aion-sovereign-\\* and the Deployments and Services in them, not ${namespaceOrName}`,
            );
          // The API server loads new policies from its informer: wait until this one is in force.
          const deadline = Date.now() + 30_000;
          while (createDeployment('default', true).status === 0) {
            if (Date.now() > deadline) throw new Error('the admission policy never took effect');
            await new Promise((r) => setTimeout(r, 250));
          }

          const namespaceX = asSovereignAi(['create', 'namespace', 'aion-sovereign-x']);
          expect([namespaceX.stderr, namespaceX.status]).toEqual(['', 0]);
          const other = asSovereignAi(['create', 'namespace', 'other']);
          expect(other.status).not.toBe(0);
          expect(other.stderr).toMatch(refusal('namespace other'));

          expect(asSovereignAi(['create', 'namespace', 'aion-sovereign-t1']).status).toBe(0);
          const inOwn = createDeployment('aion-sovereign-t1');
          expect([inOwn.stderr, inOwn.status]).toEqual(['', 0]);
          const service = asSovereignAi([
            'create',
            'service',
            'clusterip',
            'regional-model',
            '--tcp=80:8080',
            '-n',
            'aion-sovereign-t1',
          ]);
          expect([service.stderr, service.status]).toEqual(['', 0]);
          for (const namespace of ['default', 'kube-system']) {
            const r = createDeployment(namespace);
            expect([namespace, r.status]).toEqual([namespace, 1]);
            expect(r.stderr).toMatch(refusal(`deployments in namespace ${namespace}`));
          }
          const serviceOutside = asSovereignAi([
            'create',
            'service',
            'clusterip',
            'x',
            '--tcp=80:8080',
            '-n',
            'default',
          ]);
          expect(serviceOutside.stderr).toMatch(refusal('services in namespace default'));
          // Changing and deleting are refused outside too (the cluster admin creates the target).
          kubectlOk([
            'create',
            'deployment',
            'admins',
            '--image=registry.local/x:1',
            '-n',
            'default',
          ]);
          // An update (PUT: RBAC grants update, not patch) is the policy's to refuse.
          const admins = JSON.parse(
            kubectlOk(['get', 'deployment', 'admins', '-n', 'default', '-o', 'json']),
          ) as K8sObject;
          admins.spec.replicas = 3;
          const replaced = asSovereignAi(['replace', '-f', '-'], JSON.stringify(admins));
          expect(replaced.stderr).toMatch(refusal('deployments in namespace default'));
          const deleted = asSovereignAi(['delete', 'deployment', 'admins', '-n', 'default']);
          expect(deleted.stderr).toMatch(refusal('deployments in namespace default'));
          expect(kubectl(['get', 'deployment', 'admins', '-n', 'default']).status).toBe(0);
          // The platform's administrator (system:masters here) is not the policy's subject.
          expect(kubectl(['delete', 'deployment', 'admins', '-n', 'default']).status).toBe(0);
          // And the grant is still RBAC's: no Secrets even in its own namespaces.
          const secret = asSovereignAi([
            'create',
            'secret',
            'generic',
            's',
            '--from-literal=a=b',
            '-n',
            'aion-sovereign-t1',
          ]);
          expect(secret.stderr).toMatch(
            /is forbidden: User "system:serviceaccount:aion:aion-sovereign-ai" cannot create resource "secrets"/,
          );

          // Switched off (clusters before 1.30), the policy and its binding go with the upgrade.
          const off = helm([
            'upgrade',
            'aion',
            chartDir,
            '-n',
            'aion',
            '--no-hooks',
            '--set',
            'rbac.sovereignAiNamespacePolicy=false',
          ]);
          expect(off.status).toBe(0);
          expect(
            kubectl([
              'get',
              'validatingadmissionpolicy,validatingadmissionpolicybinding',
              '-o',
              'name',
            ]).stdout.trim(),
          ).toBe('');
          // Without it, RBAC alone lets the same account into any namespace: the refusals were its.
          const until = Date.now() + 30_000;
          while (createDeployment('default', true).status !== 0) {
            if (Date.now() > until) throw new Error('the admission policy stayed in force');
            await new Promise((r) => setTimeout(r, 250));
          }
        } finally {
          expect(helm(['uninstall', 'aion', '-n', 'aion', '--wait']).status).toBe(0);
          // The kept platform Secret would otherwise carry over into the next install.
          kubectl(['delete', 'secret', 'aion-secrets', '-n', 'aion', '--ignore-not-found']);
        }
      }, 120_000);

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
