import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  chartDir,
  describeWithTools,
  find,
  rendered,
  template,
  type K8sObject,
} from './fixtures/helm';

// The chart's module-host pools with native modules (moduleHost.subprocess, issue 18): off by
// default (the pods stay exactly `restricted`); on, a pool's pods get what bubblewrap needs and no
// more: a user namespace, an unmasked /proc and the chart's Localhost seccomp profile. The images
// suite runs the module-host image under that profile and unmasked /proc (images.int.spec.ts).

const podSpec = (d: K8sObject) => d.spec.template.spec;
const container = (d: K8sObject) => podSpec(d).containers[0];
const envOf = (d: K8sObject, name: string): string | undefined =>
  container(d).env.find((e: { name: string }) => e.name === name)?.value;
const pool = (all: K8sObject[], name: string) =>
  find(all, 'Deployment', `aion-module-host-${name}`);
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

  it('stays within the restricted Pod Security Standard when enabled (Localhost seccomp; Unmasked /proc only with hostUsers: false)', () => {
    const native = pool(rendered({ setJson: [TWO_POOLS] }), 'native');
    const spec = podSpec(native);
    // The checks of pod-security-admission that these fields meet (policy version 1.34+).
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
