import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { generateSigningKey, signBundle, verifyBundle } from '@aion/supply-chain';
import {
  FulcioStandIn,
  RekorStandIn,
  signKeyless,
  trustedRootJson,
} from '@aion/testing/sigstore-standin';
import { trustPoliciesFromFile } from '../../src/adapters/registry/trust-file';

// What the Helm chart mounts for moduleHost.trustPolicy (charts/aion/templates/_module-trust.tpl)
// is a policy this module host accepts and means what the operator wrote: the chart's ConfigMap is
// laid out as its volume's items say, then read by trustPoliciesFromFile and used to verify real
// signatures. Fulcio and Rekor cannot run here: the trusted roots come from the stand-in CA and log.
// helm comes from tools/infra/kube-tools.sh (AION_TEST_HELM); without it this is skipped, except
// under `npm test` (AION_TEST_KUBE_REQUIRED=1).

const chartDir = path.resolve(__dirname, '..', '..', '..', '..', 'charts', 'aion');
const cachedHelm = path.join(
  process.env['AION_TOOL_CACHE'] || path.join(os.homedir(), '.cache', 'aion'),
  'helm-v4.3.2',
  'helm',
);
const helm = process.env['AION_TEST_HELM'] || (existsSync(cachedHelm) ? cachedHelm : undefined);
if (!helm && process.env['AION_TEST_KUBE_REQUIRED'] === '1')
  throw new Error('missing helm: run tools/infra/kube-tools.sh');
const describeWithHelm = helm ? describe : describe.skip;

interface Rendered {
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  // Rendered objects are arbitrary YAML; the test narrows what it reads.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
}
interface VolumeItem {
  key: string;
  path: string;
}
interface EnvVar {
  name: string;
  value?: string;
}

const content = new TextEncoder().encode('package manifest');
const MOUNT = '/etc/aion/module-trust';

describeWithHelm('the trust policy the Helm chart renders', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aion-chart-trust-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let deploymentCa: FulcioStandIn;
  let acmeCa: FulcioStandIn;
  let rekor: RekorStandIn;
  const acmeKey = generateSigningKey();

  beforeAll(async () => {
    deploymentCa = await FulcioStandIn.create('fulcio.deployment');
    acmeCa = await FulcioStandIn.create('fulcio.acme');
    rekor = new RekorStandIn();
  });

  /** Renders the chart with `trustPolicy` (or a values file), lays the mounted files out under a directory, parses them. */
  function mounted(
    trustPolicy: unknown,
    values = path.join(dir, `values-${Math.random().toString(36).slice(2)}.yaml`),
  ) {
    if (trustPolicy !== undefined)
      writeFileSync(values, stringify({ moduleHost: { trustPolicy } }));
    const r = spawnSync(helm!, ['template', 'aion', chartDir, '-f', values], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`helm template failed:\n${r.stderr}`);
    const all = parseAllDocuments(r.stdout)
      .map((d) => d.toJS() as Rendered | null)
      .filter((o): o is Rendered => o !== null && typeof o === 'object' && 'kind' in o);
    const configMap = all.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name === 'aion-module-trust',
    );
    const pool = all.find(
      (o) => o.kind === 'Deployment' && o.metadata.name === 'aion-module-host-cpu',
    );
    const pod = pool!.spec.template.spec;
    const volume = pod.volumes.find((v: { name: string }) => v.name === 'module-trust');
    const root = mkdtempSync(path.join(dir, 'mount-'));
    for (const item of volume.configMap.items as VolumeItem[]) {
      const file = path.join(root, item.path);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, configMap!.data![item.key]!);
    }
    const env = (pod.containers[0].env as EnvVar[]).find(
      (e) => e.name === 'AION_MODULE_HOST_TRUST_POLICY',
    );
    expect(env?.value?.startsWith(`${MOUNT}/`)).toBe(true);
    return trustPoliciesFromFile(path.join(root, env!.value!.slice(MOUNT.length + 1)));
  }

  const keyless = (fulcio: FulcioStandIn, identity: string) =>
    signKeyless(content, { fulcio, rekor, identity, issuer: 'https://idp.test' });

  it('accepts the signers the values name, per tenant, and nothing else', async () => {
    const policies = mounted({
      policy: {
        keyless: {
          trusted_root: 'trusted_root.json',
          identities: [{ identity: 'release@platform.test', issuer: 'https://idp.test' }],
        },
        tenants: {
          acme: {
            keys: [acmeKey.publicKeyPem],
            trusted_root: 'acme/trusted_root.json',
            identities: [{ identity_regexp: '.*@acme\\.test', issuer: 'https://idp.test' }],
            deny_components: ['pkg:npm/event-stream@3.3.6'],
          },
          globex: {},
        },
      },
      // As `--set-file` passes them (text), and as an object.
      trustedRoots: {
        'trusted_root.json': JSON.stringify(trustedRootJson([deploymentCa], [rekor])),
        'acme/trusted_root.json': trustedRootJson([acmeCa], [rekor]),
      },
    });
    const acme = policies.forTenant('acme');
    const globex = policies.forTenant('globex');
    const signedByKey = signBundle(content, acmeKey.privateKeyPem);

    expect(verifyBundle(signedByKey, content, acme.keys, acme.keyless)).toMatchObject({ ok: true });
    expect(acme.denyComponents).toEqual(['pkg:npm/event-stream@3.3.6']);
    // acme's own Sigstore (its nested trusted root) replaces the deployment's.
    const acmeDev = await keyless(acmeCa, 'dev@acme.test');
    expect(verifyBundle(acmeDev, content, acme.keys, acme.keyless)).toMatchObject({ ok: true });
    const viaDeployment = await keyless(deploymentCa, 'release@platform.test');
    expect(verifyBundle(viaDeployment, content, acme.keys, acme.keyless)).toMatchObject({
      ok: false,
      reason: 'untrusted_ca',
    });
    // globex: the deployment's root and identities only.
    expect(verifyBundle(viaDeployment, content, globex.keys, globex.keyless)).toMatchObject({
      ok: true,
    });
    expect(verifyBundle(signedByKey, content, globex.keys, globex.keyless)).toMatchObject({
      ok: false,
      reason: 'untrusted_key',
    });
    const stranger = await keyless(deploymentCa, 'someone@else.test');
    expect(verifyBundle(stranger, content, globex.keys, globex.keyless)).toMatchObject({
      ok: false,
      reason: 'untrusted_identity',
    });
    // A tenant the values do not name trusts nothing.
    const initech = policies.forTenant('initech');
    expect(verifyBundle(signedByKey, content, initech.keys, initech.keyless)).toMatchObject({
      ok: false,
    });
  });

  it("renders the chart's example values (ci/trust-policy-values.yaml) as a valid policy", () => {
    const policies = mounted(undefined, path.join(chartDir, 'ci', 'trust-policy-values.yaml'));
    const acme = policies.forTenant('acme');
    expect([...acme.keys.values()]).toEqual([expect.stringContaining('BEGIN PUBLIC KEY')]);
    expect(acme.keyless).toBeUndefined();
    expect(acme.denyComponents).toEqual(['pkg:npm/event-stream@3.3.6', 'left-pad']);
    // The example key is not ours: a bundle signed by another key is refused under it.
    expect(
      verifyBundle(signBundle(content, acmeKey.privateKeyPem), content, acme.keys, acme.keyless),
    ).toMatchObject({ ok: false, reason: 'untrusted_key' });
  });
});
