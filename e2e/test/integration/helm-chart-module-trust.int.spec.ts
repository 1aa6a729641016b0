import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import {
  chartDir,
  container,
  describeWithTools,
  envValue as envOf,
  find,
  modulePool as pool,
  podSpec,
  rendered,
  run,
  runOk,
  template,
  tools,
  type K8sObject,
} from './fixtures/helm';

// The module hosts' trust policy from the chart (moduleHost.trustPolicy, docs/modules.md): the
// chart's ConfigMap (policy and trusted roots), an existing ConfigMap or an existing Secret, one
// at a time, mounted read-only into every pod that runs a module host. apps/module-host's
// chart-trust-policy.int.spec.ts parses what the chart renders with the module host's own parser.

const volumeOf = (d: K8sObject) =>
  podSpec(d).volumes.find((v: { name: string }) => v.name === 'module-trust');
const mountOf = (d: K8sObject) =>
  container(d).volumeMounts.find((m: { name: string }) => m.name === 'module-trust');
const annotation = (d: K8sObject) => d.spec.template.metadata.annotations['checksum/module-trust'];
const moduleHosts = (all: K8sObject[]) =>
  all.filter(
    (o) =>
      o.kind === 'Deployment' &&
      o.spec.template.metadata.labels['aion.io/runs-module-host'] === 'true',
  );
const TWO_POOLS =
  'moduleHost.pools=[{"name":"cpu","preset":"cpu"},{"name":"native","preset":"cpu","subprocess":{"enabled":true}}]';
const KEY =
  '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n';
const ROOT = '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}';
const POLICY = {
  keyless: {
    trusted_root: 'trusted_root.json',
    identities: [{ identity: 'release@platform.example', issuer: 'https://accounts.example' }],
  },
  tenants: {
    acme: {
      keys: [KEY],
      trusted_root: 'acme/trusted_root.json',
      deny_components: ['pkg:npm/evil'],
    },
    globex: { deny_components: [] },
  },
};

describeWithTools('the Helm chart: the module hosts’ trust policy', ['helm'], () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aion-chart-trust-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const valuesFile = (name: string, trustPolicy: unknown): string => {
    const file = path.join(dir, `${name}.yaml`);
    writeFileSync(file, stringify({ moduleHost: { trustPolicy } }));
    return file;
  };
  const inline = valuesFile('inline', {
    policy: POLICY,
    trustedRoots: {
      'trusted_root.json': ROOT,
      'acme/trusted_root.json': { mediaType: 'application/vnd.dev.sigstore.trustedroot+json' },
    },
  });

  it('mounts nothing and names no policy by default (every registry install is refused)', () => {
    const all = rendered({ setJson: [TWO_POOLS] });
    expect(all.find((o) => o.metadata.name === 'aion-module-trust')).toBeUndefined();
    for (const d of all.filter((o) => o.kind === 'Deployment')) {
      expect(envOf(d, 'AION_MODULE_HOST_TRUST_POLICY')).toBeUndefined();
      expect(volumeOf(d)).toBeUndefined();
      expect(annotation(d)).toBeUndefined();
    }
  });

  it('renders the inline policy and its trusted roots into a ConfigMap every pool mounts read-only', () => {
    const all = rendered({ files: [inline], setJson: [TWO_POOLS] });
    const cm = find(all, 'ConfigMap', 'aion-module-trust');
    expect(parseYaml(cm.data['trust-policy.yaml'])).toEqual(POLICY);
    expect(cm.data['trusted_root.json'].trim()).toBe(ROOT);
    const nested = Object.keys(cm.data).find((k) => k.endsWith('-trusted_root.json'))!;
    expect(nested).toMatch(/^root-[0-9a-f]{12}-trusted_root\.json$/);
    expect(JSON.parse(cm.data[nested])).toEqual({
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json',
    });
    for (const name of ['cpu', 'native']) {
      const d = pool(all, name);
      expect(envOf(d, 'AION_MODULE_HOST_TRUST_POLICY')).toBe(
        '/etc/aion/module-trust/trust-policy.yaml',
      );
      expect(mountOf(d)).toEqual({
        name: 'module-trust',
        mountPath: '/etc/aion/module-trust',
        readOnly: true,
      });
      // Paths as the policy names them, relative to its file (a key cannot hold "/").
      expect(volumeOf(d)).toEqual({
        name: 'module-trust',
        configMap: {
          name: 'aion-module-trust',
          defaultMode: 0o444,
          items: [
            { key: 'trust-policy.yaml', path: 'trust-policy.yaml' },
            { key: nested, path: 'acme/trusted_root.json' },
            { key: 'trusted_root.json', path: 'trusted_root.json' },
          ],
        },
      });
    }
    // Only module hosts read it.
    expect(envOf(find(all, 'Deployment', 'aion-gateway'), 'AION_MODULE_HOST_TRUST_POLICY')).toBe(
      undefined,
    );
    expect(volumeOf(find(all, 'Deployment', 'aion-gateway'))).toBeUndefined();
  });

  it('rolls the module hosts, and only them, when the policy or a trusted root changes', () => {
    const base = rendered({ files: [inline] });
    const hash = annotation(pool(base, 'cpu'));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    const policyChanged = rendered({
      files: [inline],
      set: ['moduleHost.trustPolicy.policy.tenants.globex.deny_components[0]=pkg:npm/left-pad'],
    });
    const rootChanged = rendered({
      files: [inline],
      set: ['moduleHost.trustPolicy.trustedRoots.trusted_root\\.json=changed'],
    });
    for (const changed of [policyChanged, rootChanged]) {
      expect(annotation(pool(changed, 'cpu'))).not.toBe(hash);
      // The other services' pods do not restart for it.
      for (const name of ['aion-gateway', 'aion-orchestrator']) {
        expect(find(changed, 'Deployment', name).spec.template.metadata.annotations).toEqual(
          find(base, 'Deployment', name).spec.template.metadata.annotations,
        );
      }
      expect(pool(changed, 'cpu').spec.template.metadata.annotations['checksum/config']).toBe(
        pool(base, 'cpu').spec.template.metadata.annotations['checksum/config'],
      );
    }
    // Unrelated values leave it alone.
    expect(annotation(pool(rendered({ files: [inline], set: ['logLevel=debug'] }), 'cpu'))).toBe(
      hash,
    );
  });

  it('mounts an existing ConfigMap or Secret whole, the policy at policyKey, and rolls on a new name', () => {
    const fromConfigMap = rendered({
      set: [
        'moduleHost.trustPolicy.existingConfigMap=module-trust-gitops',
        'moduleHost.trustPolicy.policyKey=policy.yaml',
      ],
    });
    expect(fromConfigMap.find((o) => o.metadata.name === 'aion-module-trust')).toBeUndefined();
    const cpu = pool(fromConfigMap, 'cpu');
    expect(volumeOf(cpu)).toEqual({
      name: 'module-trust',
      configMap: { name: 'module-trust-gitops', defaultMode: 0o444 },
    });
    expect(mountOf(cpu)).toEqual({
      name: 'module-trust',
      mountPath: '/etc/aion/module-trust',
      readOnly: true,
    });
    expect(envOf(cpu, 'AION_MODULE_HOST_TRUST_POLICY')).toBe('/etc/aion/module-trust/policy.yaml');

    const fromSecret = (name: string) =>
      pool(rendered({ set: [`moduleHost.trustPolicy.existingSecret=${name}`] }), 'cpu');
    const secret = fromSecret('module-trust');
    expect(volumeOf(secret)).toEqual({
      name: 'module-trust',
      secret: { secretName: 'module-trust', defaultMode: 0o444 },
    });
    expect(envOf(secret, 'AION_MODULE_HOST_TRUST_POLICY')).toBe(
      '/etc/aion/module-trust/trust-policy.yaml',
    );
    expect(annotation(secret)).toMatch(/^[0-9a-f]{64}$/);
    expect(annotation(fromSecret('module-trust-v2'))).not.toBe(annotation(secret));
    expect(annotation(secret)).not.toBe(annotation(cpu));
  });

  it('gives the co-located core (which runs the default pool) and every other pool the policy', () => {
    const all = rendered({ files: [inline], set: ['profile=co-located'], setJson: [TWO_POOLS] });
    expect(moduleHosts(all).map((d) => d.metadata.name)).toEqual(
      expect.arrayContaining(['aion-core', 'aion-module-host-native']),
    );
    for (const d of moduleHosts(all)) {
      expect(envOf(d, 'AION_MODULE_HOST_TRUST_POLICY')).toBe(
        '/etc/aion/module-trust/trust-policy.yaml',
      );
      expect(mountOf(d)?.readOnly).toBe(true);
      expect(volumeOf(d).configMap.name).toBe('aion-module-trust');
      expect(annotation(d)).toBe(annotation(pool(rendered({ files: [inline] }), 'cpu')));
    }
  });

  it('refuses two sources, trusted roots without an inline policy, and a policy naming a root it lacks', () => {
    const refusals: [string[], RegExp][] = [
      [
        ['moduleHost.trustPolicy.existingSecret=a', 'moduleHost.trustPolicy.existingConfigMap=b'],
        /set exactly one of policy, existingConfigMap, existingSecret \(got existingConfigMap, existingSecret\)/,
      ],
      [
        [
          'moduleHost.trustPolicy.existingSecret=a',
          'moduleHost.trustPolicy.policy.tenants.acme.deny_components[0]=x',
        ],
        /set exactly one of .* \(got policy, existingSecret\)/,
      ],
      [
        [
          'moduleHost.trustPolicy.existingConfigMap=a',
          'moduleHost.trustPolicy.trustedRoots.r\\.json=root',
        ],
        /trustedRoots: only with moduleHost.trustPolicy.policy/,
      ],
      [
        ['moduleHost.trustPolicy.policy.tenants.acme.trusted_root=acme.json'],
        /names trusted_root "acme.json", which is not one of moduleHost.trustPolicy.trustedRoots/,
      ],
    ];
    for (const [set, message] of refusals) {
      const r = template({ set });
      expect({ set, status: r.status }).toEqual({ set, status: 1 });
      expect(r.stderr).toMatch(message);
    }
    expect(
      template({ files: [inline], set: ['moduleHost.trustPolicy.existingSecret=x'] }).stderr,
    ).toMatch(/got policy, existingSecret/);
  });

  it('has the schema refuse unknown keys, wrong types and paths leaving the directory', () => {
    const refusals: [string, unknown][] = [
      ['unknown key', { existingSecrets: 'x' }],
      ['wrong type', { existingSecret: 7 }],
      ['unknown policy key', { policy: { tenant: {} } }],
      ['policy without tenants', { policy: { keyless: { trusted_root: 'r.json' } } }],
      ['misspelt tenant field', { policy: { tenants: { acme: { key: [KEY] } } } }],
      ['not a public key', { policy: { tenants: { acme: { keys: ['hello'] } } } }],
      [
        'unknown identity field',
        { policy: { tenants: { acme: { identities: [{ subject: 'x' }] } } } },
      ],
      ['path leaving the directory', { policy: POLICY, trustedRoots: { '../etc/passwd': '{}' } }],
      ['absolute path', { policy: POLICY, trustedRoots: { '/trusted_root.json': '{}' } }],
      ['root neither text nor object', { policy: POLICY, trustedRoots: { 'r.json': 3 } }],
      ['bad policyKey', { existingSecret: 's', policyKey: 'a/b.yaml' }],
    ];
    for (const [what, trustPolicy] of refusals) {
      const r = template({ files: [valuesFile(what.replace(/ /g, '-'), trustPolicy)] });
      expect({ what, status: r.status }).toEqual({ what, status: 1 });
      expect(r.stderr).toMatch(/values don't meet the specifications of the schema/);
    }
  });

  it("mounts each tenant's module Secret read-only under its own directory in every module host, and nothing by default", () => {
    const secrets = 'moduleHost.tenantSecrets={"acme":"acme-modules","Globex_2":"globex.modules"}';
    for (const set of [[], ['profile=co-located']]) {
      const all = rendered({ set, setJson: [TWO_POOLS, secrets] });
      for (const d of moduleHosts(all)) {
        expect(envOf(d, 'AION_MODULE_HOST_SECRETS_DIR')).toBe('/etc/aion/module-secrets');
        const ours = (list: { name: string }[]) =>
          list.filter((v) => v.name.startsWith('module-secrets-'));
        expect(ours(podSpec(d).volumes)).toEqual([
          { name: 'module-secrets-0', secret: { secretName: 'globex.modules', defaultMode: 288 } },
          { name: 'module-secrets-1', secret: { secretName: 'acme-modules', defaultMode: 288 } },
        ]);
        expect(ours(container(d).volumeMounts)).toEqual([
          {
            name: 'module-secrets-0',
            mountPath: '/etc/aion/module-secrets/Globex_2',
            readOnly: true,
          },
          { name: 'module-secrets-1', mountPath: '/etc/aion/module-secrets/acme', readOnly: true },
        ]);
      }
      // Only module hosts get them.
      const gateway = all.find(
        (o) => o.kind === 'Deployment' && o.metadata.name === 'aion-gateway',
      );
      if (gateway) expect(JSON.stringify(gateway)).not.toMatch(/module-secrets/);
    }
    const plain = rendered({ setJson: [TWO_POOLS] });
    expect(JSON.stringify(plain)).not.toMatch(/module-secrets|AION_MODULE_HOST_SECRETS_DIR/);
    // A tenant id that could leave the directory, or a name no Secret can have, is refused.
    for (const bad of ['{"../x":"s"}', '{"acme":"Not_A_Name"}', '{"acme":7}']) {
      const r = template({ setJson: [`moduleHost.tenantSecrets=${bad}`] });
      expect({ bad, status: r.status }).toEqual({ bad, status: 1 });
    }
  });

  it('NOTES.txt warns of registries without a policy and says how to restart after an outside edit', () => {
    const notes = (...args: string[]) =>
      runOk(tools.helm!, ['install', 'aion', chartDir, '--dry-run=client', '-n', 'aion', ...args]);
    expect(notes('--set', 'moduleHost.registries[0]=registry.example')).toMatch(
      /WARNING: moduleHost.registries is set but no moduleHost.trustPolicy: every package installed from a\s+registry is refused/,
    );
    expect(notes()).not.toMatch(/trustPolicy|Signed packages/);
    const fromSecret = notes(
      '--set',
      'moduleHost.trustPolicy.existingSecret=module-trust,profile=co-located',
      '--set-json',
      TWO_POOLS,
    );
    expect(fromSecret).toMatch(
      /trust policy from\s+Secret module-trust, mounted at \/etc\/aion\/module-trust/,
    );
    expect(fromSecret).toMatch(
      /kubectl --namespace aion rollout restart deployment\/aion-core deployment\/aion-module-host-native\n/,
    );
    const inlineNotes = notes('-f', inline);
    expect(inlineNotes).toMatch(/trust policy from\s+ConfigMap aion-module-trust/);
    expect(inlineNotes).not.toMatch(/rollout restart/);
  });

  it('passes helm lint --strict with an inline policy, the ci example and an existing Secret', () => {
    for (const args of [
      ['-f', inline],
      ['-f', path.join(chartDir, 'ci', 'trust-policy-values.yaml')],
      ['--set', 'moduleHost.trustPolicy.existingSecret=module-trust'],
    ]) {
      const r = run(tools.helm!, ['lint', '--strict', chartDir, ...args]);
      expect({ args, status: r.status, out: r.stdout + r.stderr }).toEqual(
        expect.objectContaining({ status: 0 }),
      );
    }
  });
});
