import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  describeWithKubeApiServer,
  startKubeControlPlane,
  type KubeControlPlane,
} from '@aion/testing';
import {
  chartDir,
  container,
  describeWithTools,
  envValue as envOf,
  modulePool as pool,
  podSpec,
  rendered,
  run,
  runOk,
  template,
  tools,
  type K8sObject,
} from './fixtures/helm';

// The chart's module-host pools with native modules (moduleHost.subprocess, issue 18): off by
// default (the pods stay exactly `restricted`); on, a pool's pods get what bubblewrap needs and no
// more: a user namespace, an unmasked /proc and the chart's Localhost seccomp profile. The images
// suite runs the module-host image under that profile and unmasked /proc (images.int.spec.ts).

const RESTRICTED_CONTAINER = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  privileged: false,
  capabilities: { drop: ['ALL'] },
};
const TWO_POOLS =
  'moduleHost.pools=[{"name":"cpu","preset":"cpu"},{"name":"native","preset":"cpu","subprocess":{"enabled":true}}]';

describeWithTools('the Helm chart: module-host pools with native modules', ['helm'], () => {
  it('keeps every pool restricted and refusing subprocess packages by default', () => {
    const cpu = pool(rendered(), 'cpu');
    expect(envOf(cpu, 'AION_MODULE_HOST_SUBPROCESS')).toBe('off');
    expect(podSpec(cpu).hostUsers).toBeUndefined();
    expect(podSpec(cpu).securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
    expect(container(cpu).securityContext).toEqual(RESTRICTED_CONTAINER);
  });

  it('gives an enabled pool a user namespace, an unmasked /proc and the Localhost seccomp profile, and nothing else', () => {
    const all = rendered({ setJson: [TWO_POOLS] });
    const native = pool(all, 'native');
    expect(envOf(native, 'AION_MODULE_HOST_SUBPROCESS')).toBe('auto');
    expect(podSpec(native).hostUsers).toBe(false);
    expect(podSpec(native).securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      fsGroup: 65532,
      seccompProfile: { type: 'Localhost', localhostProfile: 'aion/module-host-bwrap.json' },
    });
    expect(container(native).securityContext).toEqual({
      ...RESTRICTED_CONTAINER,
      procMount: 'Unmasked',
    });
    // The other pool and every other workload are as before, and so are the NetworkPolicies.
    const cpu = pool(all, 'cpu');
    expect(envOf(cpu, 'AION_MODULE_HOST_SUBPROCESS')).toBe('off');
    expect(podSpec(cpu).hostUsers).toBeUndefined();
    expect(container(cpu).securityContext).toEqual(RESTRICTED_CONTAINER);
    for (const d of all.filter((o) => o.kind === 'Deployment' && o !== native))
      expect({ name: d.metadata.name, seccomp: podSpec(d).securityContext.seccompProfile }).toEqual(
        { name: d.metadata.name, seccomp: { type: 'RuntimeDefault' } },
      );
    const policies = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'NetworkPolicy');
    expect(policies(all)).toEqual(policies(rendered()));
  });

  it('keeps the rest of restricted when enabled: Localhost seccomp, non-root, no capabilities, no escalation', () => {
    const native = pool(rendered({ setJson: [TWO_POOLS] }), 'native');
    const spec = podSpec(native);
    // The API server's pod security admission below says the same (all but procMount).
    expect(['RuntimeDefault', 'Localhost']).toContain(spec.securityContext.seccompProfile.type);
    expect(spec.securityContext.runAsNonRoot).toBe(true);
    expect(spec.hostUsers).toBe(false);
    expect(container(native).securityContext.capabilities).toEqual({ drop: ['ALL'] });
    expect(container(native).securityContext.allowPrivilegeEscalation).toBe(false);
  });

  it('takes the Unconfined fallback and an AppArmor profile from a pool, without stray fields', () => {
    const native = pool(
      rendered({
        setJson: [
          'moduleHost.pools=[{"name":"cpu","preset":"cpu"},{"name":"native","preset":"cpu","subprocess":{"enabled":true,"seccompProfile":{"type":"Unconfined"},"appArmorProfile":{"type":"Localhost","localhostProfile":"aion-bwrap"}}}]',
        ],
      }),
      'native',
    );
    // The default's localhostProfile is not carried over: the API refuses it beside Unconfined.
    expect(podSpec(native).securityContext.seccompProfile).toEqual({ type: 'Unconfined' });
    expect(podSpec(native).securityContext.appArmorProfile).toEqual({
      type: 'Localhost',
      localhostProfile: 'aion-bwrap',
    });
  });

  it('enables every pool from moduleHost.subprocess, unless a pool turns it off', () => {
    const all = rendered({
      set: ['moduleHost.subprocess.enabled=true'],
      setJson: [
        'moduleHost.pools=[{"name":"cpu","preset":"cpu"},{"name":"wasm","preset":"cpu","subprocess":{"enabled":false}}]',
      ],
    });
    expect(envOf(pool(all, 'cpu'), 'AION_MODULE_HOST_SUBPROCESS')).toBe('auto');
    expect(envOf(pool(all, 'wasm'), 'AION_MODULE_HOST_SUBPROCESS')).toBe('off');
    expect(podSpec(pool(all, 'wasm')).hostUsers).toBeUndefined();
  });

  it('refuses what cannot work, saying why', () => {
    const cases: [string[], string[], RegExp][] = [
      // The co-located core runs the default pool, and its image has no bubblewrap.
      [
        ['profile=co-located', 'moduleHost.subprocess.enabled=true'],
        [],
        /subprocess.enabled: in the co-located profile .* no bubblewrap/,
      ],
      [
        [
          'moduleHost.subprocess.enabled=true',
          'moduleHost.subprocess.seccompProfile.localhostProfile=null',
        ],
        [],
        /type Localhost needs localhostProfile/,
      ],
      // RuntimeDefault forbids unshare and mount: bubblewrap could never start.
      [
        ['moduleHost.subprocess.seccompProfile.type=RuntimeDefault'],
        [],
        /\/moduleHost\/subprocess\/seccompProfile\/type/,
      ],
      [
        [],
        ['moduleHost.pools=[{"name":"cpu","preset":"cpu","subprocess":{"enabeld":true}}]'],
        /additional properties 'enabeld' not allowed/,
      ],
      [['moduleHost.subprocess.enabled=yes'], [], /\/moduleHost\/subprocess\/enabled/],
    ];
    for (const [set, setJson, message] of cases) {
      const r = template({ set, setJson });
      expect({ set, setJson, status: r.status }).toEqual({ set, setJson, status: 1 });
      expect(r.stderr).toMatch(message);
    }
  });

  it('NOTES.txt says what an enabled pool needs: the profile on the nodes, a baseline namespace', () => {
    const notes = (setJson: string[]) =>
      runOk(tools.helm!, [
        'install',
        'aion',
        chartDir,
        '--dry-run=client',
        '--namespace',
        'aion',
        ...setJson.flatMap((j) => ['--set-json', j]),
      ]);
    const enabled = notes([TWO_POOLS]);
    expect(enabled).toMatch(/module-host pool\(s\) native run subprocess packages/);
    expect(enabled).toMatch(/files\/seccomp\/aion-module-host-bwrap.json/);
    expect(enabled).toMatch(/pod-security.kubernetes.io\/enforce=baseline/);
    expect(enabled).not.toMatch(/every pod meets the "restricted"/);
    const off = notes([]);
    expect(off).toMatch(/every pod meets the "restricted"[\s\S]*enforce=restricted/);
    expect(off).not.toMatch(/Native modules/);
  });

  it('ships a seccomp profile that allows what bubblewrap does and still refuses the rest', () => {
    const profile = JSON.parse(
      readFileSync(path.join(chartDir, 'files', 'seccomp', 'aion-module-host-bwrap.json'), 'utf8'),
    ) as {
      defaultAction: string;
      syscalls: { names: string[]; action: string; args?: unknown[] }[];
    };
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    const allowed = new Set(
      profile.syscalls
        .filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args)
        .flatMap((s) => s.names),
    );
    for (const needed of ['unshare', 'clone', 'mount', 'umount2', 'pivot_root', 'sethostname'])
      expect({ needed, allowed: allowed.has(needed) }).toEqual({ needed, allowed: true });
    // What the runtime default refuses an unprivileged container and bubblewrap never needs.
    for (const refused of [
      'keyctl',
      'bpf',
      'ptrace',
      'setns',
      'kexec_load',
      'init_module',
      'open_tree',
    ])
      expect({ refused, allowed: allowed.has(refused) }).toEqual({ refused, allowed: false });
  });
});

// What the API server and its pod security admission say of it (kube-apiserver from the tool
// cache, no node). pod-security-admission's restricted level (policy 1.35+) forbids an unmasked
// /proc even in a user namespace; baseline allows it there: an enabled pool needs its namespace at
// baseline, and restricted objects to that one field only. Unconfined seccomp needs privileged.
describeWithTools(
  'the Helm chart: a native-module pool on a real API server',
  ['helm', 'kubectl'],
  () => {
    describeWithKubeApiServer('kube-apiserver', (binary) => {
      let plane: KubeControlPlane;
      let scratch: string;
      let kubeconfig: string;
      const dryRun = (namespace: string, set: string[] = []) => {
        const manifest = template({ set, setJson: [TWO_POOLS], namespace });
        if (manifest.status !== 0) throw new Error(manifest.stderr);
        return run(
          tools.kubectl!,
          [
            '--kubeconfig',
            kubeconfig,
            'apply',
            '--dry-run=server',
            '--validate=strict',
            '-n',
            namespace,
            '-f',
            '-',
          ],
          manifest.stdout,
        );
      };
      const unconfined = [
        'moduleHost.subprocess.seccompProfile.type=Unconfined',
        'moduleHost.subprocess.seccompProfile.localhostProfile=null',
      ];

      beforeAll(async () => {
        plane = await startKubeControlPlane(binary);
        scratch = mkdtempSync(path.join(os.tmpdir(), 'aion-helm-subprocess-'));
        kubeconfig = path.join(scratch, 'kubeconfig');
        writeFileSync(kubeconfig, plane.kubeConfig.exportConfig());
        for (const level of ['baseline', 'restricted']) {
          const kubectlOk = (args: string[]) =>
            runOk(tools.kubectl!, ['--kubeconfig', kubeconfig, ...args]);
          kubectlOk(['create', 'namespace', `aion-${level}`]);
          kubectlOk([
            'label',
            'namespace',
            `aion-${level}`,
            `pod-security.kubernetes.io/enforce=${level}`,
            `pod-security.kubernetes.io/warn=${level}`,
          ]);
        }
      }, 120_000);

      afterAll(async () => {
        await plane?.stop();
        if (scratch) rmSync(scratch, { recursive: true, force: true });
      });

      it('accepts the enabled pool in a baseline namespace, without a pod security warning', () => {
        const r = dryRun('aion-baseline');
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        expect(r.stdout).toMatch(/deployment.apps\/aion-module-host-native/);
      });

      it('is restricted but for the unmasked /proc (the Localhost seccomp profile passes)', () => {
        expect(dryRun('aion-restricted').stderr.trim()).toBe(
          'Warning: would violate PodSecurity "restricted:latest": procMount (container "module-host-native" must not set securityContext.procMount to "Unmasked")',
        );
      });

      it('needs a privileged namespace for the Unconfined fallback', () => {
        expect(dryRun('aion-baseline', unconfined).stderr).toMatch(
          /would violate PodSecurity "baseline:latest": seccompProfile/,
        );
      });

      it('refuses an unmasked /proc without the user namespace', () => {
        const manifest = template({ setJson: [TWO_POOLS], namespace: 'aion-baseline' });
        const r = run(
          tools.kubectl!,
          [
            '--kubeconfig',
            kubeconfig,
            'apply',
            '--dry-run=server',
            '--validate=strict',
            '-n',
            'aion-baseline',
            '-f',
            '-',
          ],
          manifest.stdout.replace('hostUsers: false', 'hostUsers: true'),
        );
        expect(r.status).not.toBe(0);
        expect(r.stderr).toMatch(/procMount/);
      });
    });
  },
);
