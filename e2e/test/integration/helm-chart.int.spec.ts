import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import {
  describeWithTools,
  find,
  GPU_PRESETS,
  podSpec,
  presetValues,
  rendered,
  run,
  template,
  tools,
  chartDir,
  type K8sObject,
} from './fixtures/helm';

// The Helm chart (charts/aion) as `helm template` renders it: lint, the GPU pools, pod security,
// NetworkPolicies, hooks, secrets and the values schema. helm-chart-cluster.int.spec.ts puts the
// same output through kubeconform and a real kube-apiserver.

const deployments = (all: K8sObject[]) => all.filter((o) => o.kind === 'Deployment');
const envOf = (d: K8sObject, name: string) =>
  podSpec(d).containers[0].env.find((e: { name: string }) => e.name === name);

describeWithTools('the Helm chart as rendered', ['helm'], () => {
  const defaults = rendered();

  it('passes helm lint --strict with the default values and each GPU preset', () => {
    for (const files of [[], ...GPU_PRESETS.map((p) => [presetValues(p)])]) {
      const r = run(tools.helm!, [
        'lint',
        '--strict',
        chartDir,
        ...files.flatMap((f) => ['-f', f]),
      ]);
      expect({ files, status: r.status, out: r.stdout + r.stderr }).toEqual(
        expect.objectContaining({ status: 0 }),
      );
    }
  });

  it('renders a Deployment, headless Service, PDB and HPA (2-20) per service and the CPU pool', () => {
    const names = deployments(defaults)
      .map((d) => d.metadata.name)
      .sort();
    expect(names).toEqual(
      [
        'data-pipeline',
        'gateway',
        'module-host-cpu',
        'observability',
        'orchestrator',
        'sovereign-ai',
      ]
        .map((n) => `aion-${n}`)
        .sort(),
    );
    for (const name of names) {
      const headless = find(
        defaults,
        'Service',
        name === 'aion-gateway' ? 'aion-gateway-headless' : name,
      );
      expect(headless.spec.clusterIP).toBe('None');
      expect(find(defaults, 'PodDisruptionBudget', name).spec.maxUnavailable).toBe(1);
      const hpa = find(defaults, 'HorizontalPodAutoscaler', name);
      expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([2, 20]);
      // The HPA owns the replica count.
      expect(find(defaults, 'Deployment', name).spec.replicas).toBeUndefined();
    }
    expect(find(defaults, 'Service', 'aion-gateway').spec.type).toBe('ClusterIP');
    // CPU only by default; requests in flight too where a metrics adapter serves them.
    expect(find(defaults, 'HorizontalPodAutoscaler', 'aion-gateway').spec.metrics).toHaveLength(1);
    const scaled = rendered({
      set: [
        'defaults.autoscaling.inFlightRequestsPerPod=32',
        'services.orchestrator.autoscaling.inFlightRequestsPerPod=0',
      ],
    });
    expect(find(scaled, 'HorizontalPodAutoscaler', 'aion-gateway').spec.metrics[1]).toEqual({
      type: 'Pods',
      pods: {
        metric: { name: 'aion_requests_in_flight' },
        target: { type: 'AverageValue', averageValue: '32' },
      },
    });
    expect(find(scaled, 'HorizontalPodAutoscaler', 'aion-orchestrator').spec.metrics).toHaveLength(
      1,
    );
  });

  it('probes liveness on /healthz, readiness on /readyz (the gateway on its ops port) and startup on gRPC health', () => {
    for (const d of deployments(defaults)) {
      const c = podSpec(d).containers[0];
      expect(c.livenessProbe.httpGet.path).toBe('/healthz');
      expect(c.readinessProbe.httpGet).toEqual({
        path: '/readyz',
        port: d.metadata.name === 'aion-gateway' ? 'ops' : 'http',
      });
      expect(c.startupProbe.grpc.port).toBe(
        c.ports.find((p: { name: string }) => p.name === 'grpc').containerPort,
      );
    }
    // The kubelet's gRPC probe speaks plaintext: with mutual TLS between services it probes HTTP.
    const tls = rendered({ set: ['grpcTls.enabled=true', 'grpcTls.secret=aion-grpc'] });
    for (const d of deployments(tls)) {
      expect(podSpec(d).containers[0].startupProbe).toEqual(
        expect.objectContaining({ httpGet: { path: '/healthz', port: 'http' } }),
      );
      expect(envOf(d, 'AION_GRPC_TLS_CERT_FILE')).toBeUndefined(); // from the env ConfigMap
    }
    expect(find(tls, 'ConfigMap', 'aion-env').data.AION_GRPC_TLS_CA_FILE).toBe(
      '/etc/aion/tls/grpc/ca.crt',
    );
  });

  it('runs every pod under the restricted pod security standard', () => {
    const jobs = defaults.filter((o) => o.kind === 'Job');
    expect(jobs.length).toBe(2);
    for (const w of [...deployments(defaults), ...jobs]) {
      const spec = podSpec(w);
      expect(spec.securityContext).toEqual(
        expect.objectContaining({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } }),
      );
      for (const c of spec.containers) {
        expect(c.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          privileged: false,
          capabilities: { drop: ['ALL'] },
        });
        // A read-only root needs a writable /tmp.
        expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
      }
      expect(spec.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '256Mi' } });
    }
  });

  it('gives only sovereign-ai a Kubernetes API token and a ClusterRole for its regional deployments', () => {
    for (const d of deployments(defaults))
      expect([d.metadata.name, podSpec(d).automountServiceAccountToken]).toEqual([
        d.metadata.name,
        d.metadata.name === 'aion-sovereign-ai',
      ]);
    const role = find(defaults, 'ClusterRole', 'aion-sovereign-ai-aion');
    expect(role.spec).toBeUndefined();
    const rules = (role as unknown as { rules: { resources: string[]; verbs: string[] }[] }).rules;
    expect(rules.flatMap((r) => r.resources).sort()).toEqual(
      ['deployments', 'deployments/status', 'namespaces', 'services'].sort(),
    );
    expect(rules.flatMap((r) => r.verbs)).not.toContain('*');
    const binding = find(defaults, 'ClusterRoleBinding', 'aion-sovereign-ai-aion') as unknown as {
      subjects: { name: string; namespace: string }[];
    };
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'aion-sovereign-ai', namespace: 'aion' },
    ]);
    expect(
      rendered({ set: ['rbac.sovereignAi=false'] }).some((o) => o.kind === 'ClusterRole'),
    ).toBe(false);
  });

  it('narrows sovereign-ai’s ClusterRole to its namespace prefix with a ValidatingAdmissionPolicy', () => {
    const policyOf = (all: K8sObject[]) => {
      const policy = find(all, 'ValidatingAdmissionPolicy', 'aion-sovereign-ai-aion');
      const binding = find(all, 'ValidatingAdmissionPolicyBinding', 'aion-sovereign-ai-aion');
      expect([policy.apiVersion, binding.apiVersion]).toEqual([
        'admissionregistration.k8s.io/v1',
        'admissionregistration.k8s.io/v1',
      ]);
      expect(binding.spec).toEqual({
        policyName: 'aion-sovereign-ai-aion',
        validationActions: ['Deny'],
      });
      return policy.spec;
    };
    const spec = policyOf(defaults);
    expect(spec.failurePolicy).toBe('Fail');
    // Every write the ClusterRole allows, subresources included.
    expect(spec.matchConstraints.resourceRules).toEqual([
      expect.objectContaining({
        apiGroups: [''],
        operations: ['*'],
        resources: ['namespaces', 'namespaces/*', 'services', 'services/*'],
      }),
      expect.objectContaining({
        apiGroups: ['apps'],
        operations: ['*'],
        resources: ['deployments', 'deployments/*'],
      }),
    ]);
    // Only sovereign-ai's own account, by its exact username.
    expect(spec.matchConditions).toEqual([
      {
        name: 'sovereign-ai-only',
        expression: "request.userInfo.username == 'system:serviceaccount:aion:aion-sovereign-ai'",
      },
    ]);
    const [rule] = spec.validations;
    expect(rule.expression).toBe(
      "request.resource.resource == 'namespaces' ? request.name.startsWith('aion-sovereign-') : request.namespace.startsWith('aion-sovereign-')",
    );
    expect(rule.message).toBe(
      'sovereign-ai may only change namespaces named aion-sovereign-* and the Deployments and Services in them',
    );

    // The prefix and the account follow the values: another prefix, the co-located core's account.
    const coLocated = policyOf(
      rendered({
        set: ['profile=co-located', 'services.sovereign-ai.k8sNamespacePrefix=eu-models'],
      }),
    );
    expect(coLocated.matchConditions[0].expression).toBe(
      "request.userInfo.username == 'system:serviceaccount:aion:aion-core'",
    );
    expect(coLocated.validations[0].expression).toMatch(/startsWith\('eu-models-'\)/);
    expect(coLocated.validations[0].expression).not.toMatch(/aion-sovereign/);

    // Off for clusters before 1.30, and never without the ClusterRole it narrows.
    for (const set of [['rbac.sovereignAiNamespacePolicy=false'], ['rbac.sovereignAi=false']]) {
      const kinds = rendered({ set }).map((o) => o.kind);
      expect([set, kinds.filter((k) => k.startsWith('ValidatingAdmissionPolicy'))]).toEqual([
        set,
        [],
      ]);
    }
  });

  describe('GPU module-host pools', () => {
    const expected = {
      cuda: {
        resource: 'nvidia.com/gpu',
        label: 'nvidia.com/gpu.present',
        vendor: 'nvidia',
        runtimeClass: 'nvidia',
      },
      rocm: {
        resource: 'amd.com/gpu',
        label: 'feature.node.kubernetes.io/pci-0300_1002.present',
        vendor: 'amd',
        runtimeClass: undefined,
      },
      oneapi: {
        resource: 'gpu.intel.com/xe',
        label: 'intel.feature.node.kubernetes.io/gpu',
        vendor: 'intel',
        runtimeClass: undefined,
      },
    };
    it.each(GPU_PRESETS)(
      '%s: its own Deployment and Service on GPU nodes, next to the CPU pool',
      (preset) => {
        const all = rendered({ files: [presetValues(preset)] });
        const e = expected[preset];
        const pool = find(all, 'Deployment', `aion-module-host-${preset}`);
        const spec = podSpec(pool);
        const c = spec.containers[0];
        expect(c.resources.limits[e.resource]).toBe('1');
        expect(c.resources.requests[e.resource]).toBe('1');
        expect(spec.nodeSelector).toEqual({ [e.label]: 'true' });
        expect(spec.tolerations).toEqual([
          { key: e.resource, operator: 'Exists', effect: 'NoSchedule' },
        ]);
        expect(spec.runtimeClassName).toBe(e.runtimeClass);
        expect(pool.spec.template.metadata.labels['aion.io/accelerator']).toBe(e.vendor);
        expect(pool.spec.replicas).toBe(1);
        expect(find(all, 'Service', `aion-module-host-${preset}`).spec.clusterIP).toBe('None');
        // Each pool's hosts know their pool and accelerator; the orchestrator knows every pool.
        expect(envOf(pool, 'AION_MODULE_HOST_POOL').value).toBe(preset);
        expect(envOf(pool, 'AION_MODULE_HOST_ACCELERATOR').value).toBe(preset);
        const cpuPool = find(all, 'Deployment', 'aion-module-host-cpu');
        expect(envOf(cpuPool, 'AION_MODULE_HOST_POOL').value).toBe('cpu');
        expect(envOf(cpuPool, 'AION_MODULE_HOST_ACCELERATOR').value).toBe('cpu');
        const orchestrator = find(all, 'Deployment', 'aion-orchestrator');
        expect(envOf(orchestrator, 'AION_ORCHESTRATOR_MODULE_HOST_POOLS').value).toBe(
          'cpu=cpu@dns:///aion-module-host-cpu.aion.svc.cluster.local:50055,' +
            `${preset}=${preset}@dns:///aion-module-host-${preset}.aion.svc.cluster.local:50055`,
        );
        expect(envOf(orchestrator, 'AION_ORCHESTRATOR_MODULE_HOST_ADDRESS')).toBeUndefined();
        // The CPU pool is untouched: no GPU resource, selector or toleration.
        const cpu = podSpec(find(all, 'Deployment', 'aion-module-host-cpu'));
        expect(JSON.stringify(cpu.containers[0].resources)).not.toMatch(/gpu/);
        expect(cpu.nodeSelector).toBeUndefined();
        expect(cpu.tolerations).toBeUndefined();
      },
    );

    it('a pool overrides its preset: node selector, tolerations and affinity of its own', () => {
      const affinity = {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: 'gpu-model', operator: 'In', values: ['h100'] }] },
            ],
          },
        },
      };
      const all = rendered({
        setJson: [
          `moduleHost.pools=${JSON.stringify([
            { name: 'cpu', preset: 'cpu' },
            {
              name: 'big',
              preset: 'cuda',
              nodeSelector: { pool: 'gpu-a' },
              tolerations: [],
              affinity,
            },
            // A pool's own vendor wins over its preset's, and names its accelerator.
            { name: 'amd', preset: 'cuda', vendor: 'amd' },
          ])}`,
        ],
      });
      const big = find(all, 'Deployment', 'aion-module-host-big');
      const spec = podSpec(big);
      expect(spec.nodeSelector).toEqual({ pool: 'gpu-a' });
      expect(spec.tolerations).toBeUndefined();
      expect(spec.affinity).toEqual(affinity);
      expect(spec.containers[0].resources.limits['nvidia.com/gpu']).toBe('1');
      expect(envOf(big, 'AION_MODULE_HOST_ACCELERATOR').value).toBe('cuda');
      const amd = find(all, 'Deployment', 'aion-module-host-amd');
      expect(envOf(amd, 'AION_MODULE_HOST_POOL').value).toBe('amd');
      expect(envOf(amd, 'AION_MODULE_HOST_ACCELERATOR').value).toBe('rocm');
      expect(
        envOf(find(all, 'Deployment', 'aion-orchestrator'), 'AION_ORCHESTRATOR_MODULE_HOST_POOLS')
          .value,
      ).toMatch(
        /,big=cuda@dns:\/\/\/aion-module-host-big\.[^,]+,amd=rocm@dns:\/\/\/aion-module-host-amd\./,
      );
    });

    it('the orchestrator reaches every pool over its headless Service; a bad pool stops the render', () => {
      const all = rendered({ files: [presetValues('cuda')], set: ['moduleHost.defaultPool=cuda'] });
      expect(
        envOf(find(all, 'Deployment', 'aion-orchestrator'), 'AION_ORCHESTRATOR_MODULE_HOST_POOLS')
          .value,
      ).toBe(
        'cpu=cpu@dns:///aion-module-host-cpu.aion.svc.cluster.local:50055,cuda=cuda@dns:///aion-module-host-cuda.aion.svc.cluster.local:50055',
      );
      const noVendor = template({
        setJson: [
          'moduleHost.presets.tpu={"resources":{}}',
          'moduleHost.pools=[{"name":"cpu","preset":"tpu"}]',
        ],
      });
      expect(noVendor.status).not.toBe(0);
      expect(noVendor.stderr).toMatch(/presets\/tpu': missing property 'vendor'/);
      const wrong = template({ set: ['moduleHost.defaultPool=nope'] });
      expect(wrong.status).not.toBe(0);
      expect(wrong.stderr).toMatch(/moduleHost.defaultPool "nope" names no pool/);
      const unknownPreset = template({
        setJson: ['moduleHost.pools=[{"name":"cpu","preset":"tpu"}]'],
      });
      expect(unknownPreset.stderr).toMatch(/preset "tpu" is not one of cpu, cuda, oneapi, rocm/);
    });
  });

  it('denies all traffic by default and allows each service only its callers and dependencies', () => {
    const policies = defaults.filter((o) => o.kind === 'NetworkPolicy');
    const deny = find(policies, 'NetworkPolicy', 'aion-default-deny');
    expect(deny.spec).toEqual({
      podSelector: {
        matchLabels: { 'app.kubernetes.io/instance': 'aion', 'app.kubernetes.io/name': 'aion' },
      },
      policyTypes: ['Ingress', 'Egress'],
    });
    const grpcFrom = (service: string) =>
      find(policies, 'NetworkPolicy', `aion-${service}`)
        .spec.ingress.filter((r: { from?: unknown[] }) => r.from?.length)
        .flatMap(
          (r: { from: { podSelector?: { matchLabels: Record<string, string> } }[] }) => r.from,
        )
        .map(
          (p: { podSelector?: { matchLabels: Record<string, string> } }) =>
            p.podSelector?.matchLabels,
        )
        .filter(
          (l: Record<string, string> | undefined) =>
            l && Object.keys(l).some((k) => k.startsWith('aion.io/runs-')),
        )
        .map((l: Record<string, string>) =>
          Object.keys(l)
            .find((k) => k.startsWith('aion.io/runs-'))!
            .slice('aion.io/runs-'.length),
        );
    expect(grpcFrom('orchestrator')).toEqual(['gateway']);
    // Observability asks it whether LLM traces may go to a tenant's Langfuse deployment.
    expect(grpcFrom('sovereign-ai')).toEqual(['gateway', 'orchestrator', 'observability']);
    // The gateway installs modules (/api/v1/modules) and submits pipeline jobs.
    expect(grpcFrom('module-host')).toEqual(['gateway', 'orchestrator']);
    expect(grpcFrom('data-pipeline')).toEqual(['gateway']);
    const gateway = find(defaults, 'Deployment', 'aion-gateway');
    expect(envOf(gateway, 'AION_GATEWAY_MODULE_HOST_ADDRESS').value).toBe(
      'dns:///aion-module-host-cpu.aion.svc.cluster.local:50055',
    );
    expect(envOf(gateway, 'AION_GATEWAY_PIPELINE_ADDRESS').value).toBe(
      'dns:///aion-data-pipeline.aion.svc.cluster.local:50053',
    );
    // Module hosts install only from the registries named (none by default).
    expect(JSON.stringify(defaults)).not.toContain('AION_MODULE_HOST_REGISTRIES');
    const registries = rendered({
      set: ['moduleHost.registries={harbor.corp:443,registry.local}'],
    });
    expect(
      envOf(find(registries, 'Deployment', 'aion-module-host-cpu'), 'AION_MODULE_HOST_REGISTRIES')
        .value,
    ).toBe('harbor.corp:443,registry.local');
    // ...and may reach them: each entry's port (443 for a bare host), to the peers named.
    const registryEgress = (all: K8sObject[]) =>
      find(all, 'NetworkPolicy', 'aion-module-host').spec.egress;
    expect(registryEgress(registries)).toEqual([{ ports: [{ protocol: 'TCP', port: 443 }] }]);
    const narrowedRegistries = rendered({
      set: ['moduleHost.registries={harbor.corp:5443,registry.local}'],
      setJson: ['networkPolicy.moduleRegistries.peers=[{"ipBlock":{"cidr":"10.30.0.0/16"}}]'],
    });
    expect(registryEgress(narrowedRegistries)).toEqual([
      {
        ports: [
          { protocol: 'TCP', port: 5443 },
          { protocol: 'TCP', port: 443 },
        ],
        to: [{ ipBlock: { cidr: '10.30.0.0/16' } }],
      },
    ]);
    expect(grpcFrom('observability')).toEqual(['gateway', 'orchestrator']);
    // Redis only from the gateway; model providers only from the orchestrator; the API only from sovereign-ai.
    const egressPorts = (service: string) =>
      find(policies, 'NetworkPolicy', `aion-${service}`).spec.egress.flatMap(
        (r: { ports: { port: number }[] }) => r.ports.map((p) => p.port),
      );
    expect(egressPorts('gateway')).toEqual([50051, 50052, 50054, 50053, 50055, 6379]);
    expect(egressPorts('orchestrator')).toEqual([50052, 50055, 50054, 443]);
    expect(egressPorts('sovereign-ai')).toEqual([443, 6443]);
    expect(egressPorts('module-host')).toEqual([]);
    expect(egressPorts('observability')).toEqual([50052, 9090, 9093, 3100]);
    const infra = find(policies, 'NetworkPolicy', 'aion-infrastructure').spec.egress;
    expect(infra.flatMap((r: { ports: { port: number }[] }) => r.ports.map((p) => p.port))).toEqual(
      [53, 53, 5432, 9092],
    );
    // Narrowed peers replace "anywhere on the port".
    const narrowed = rendered({
      setJson: ['networkPolicy.postgresql=[{"ipBlock":{"cidr":"10.20.0.0/16"}}]'],
    });
    expect(find(narrowed, 'NetworkPolicy', 'aion-infrastructure').spec.egress[1]).toEqual({
      ports: [{ protocol: 'TCP', port: 5432 }],
      to: [{ ipBlock: { cidr: '10.20.0.0/16' } }],
    });
    expect(
      rendered({ set: ['networkPolicy.enabled=false'] }).some((o) => o.kind === 'NetworkPolicy'),
    ).toBe(false);
  });

  it('migrates with the owner credentials in a pre-install/pre-upgrade hook, then creates the topics', () => {
    const all = rendered({
      set: [
        'postgresql.owner.password=own:er/pw',
        'postgresql.app.password=app-pw',
        'postgresql.sslMode=require',
      ],
    });
    const hookSecret = find(all, 'Secret', 'aion-hooks');
    const migrate = find(all, 'Job', 'aion-migrate');
    const topics = find(all, 'Job', 'aion-kafka-topics');
    const annotations = (o: K8sObject) => o.metadata.annotations ?? {};
    for (const o of [hookSecret, migrate, topics]) {
      expect(annotations(o)['helm.sh/hook']).toBe('pre-install,pre-upgrade');
      expect(annotations(o)['helm.sh/hook-delete-policy']).toBe(
        'before-hook-creation,hook-succeeded',
      );
    }
    // The secret first, then migrations, then topics.
    expect(
      [hookSecret, migrate, topics].map((o) => Number(annotations(o)['helm.sh/hook-weight'])),
    ).toEqual([-10, 0, 5]);
    expect(hookSecret.stringData.DATABASE_URL).toBe(
      'postgresql://aion_owner:own%3Aer%2Fpw@postgresql:5432/aion?sslmode=require',
    );
    const c = podSpec(migrate).containers[0];
    // The migration CLI as bundled in the images (tools/images/bundle.mjs).
    expect(c.command).toEqual(['/usr/local/bin/node', '/app/tools/migrate.js', 'migrate']);
    expect(c.env).toContainEqual({ name: 'AION_DB_APP_ROLE', value: 'aion_app' });
    expect(c.env).toContainEqual({
      name: 'DATABASE_URL',
      valueFrom: { secretKeyRef: { name: 'aion-hooks', key: 'DATABASE_URL' } },
    });
    // The services connect as the app role, never the owner.
    expect(find(all, 'Secret', 'aion-connections').stringData.DATABASE_URL).toBe(
      'postgresql://aion_app:app-pw@postgresql:5432/aion?sslmode=require',
    );
    // An owner URL from an existing Secret: no hook Secret holds it.
    const existing = rendered({ set: ['postgresql.owner.existingSecret=pg-owner'] });
    expect(existing.some((o) => o.metadata.name === 'aion-hooks')).toBe(false);
    expect(podSpec(find(existing, 'Job', 'aion-migrate')).containers[0].env[0].valueFrom).toEqual({
      secretKeyRef: { name: 'pg-owner', key: 'url' },
    });
  });

  it('creates the topics with Aion’s own image and the services’ Kafka settings, at the configured durability', () => {
    const all = rendered({ set: ['kafka.replicationFactor=5', 'kafka.minInsyncReplicas=3'] });
    const c = podSpec(find(all, 'Job', 'aion-kafka-topics')).containers[0];
    // The CLI bundled in the images (tools/images/bundle.mjs), in the migration Job's image; no
    // topic named: the whole event catalog with its .dlq twins.
    expect(c.image).toMatch(/\/aion\/gateway:/);
    expect(c.image).toBe(podSpec(find(all, 'Job', 'aion-migrate')).containers[0].image);
    expect(c.command).toEqual(['/usr/local/bin/node', '/app/tools/kafka-topics.js']);
    expect(c.args).toEqual(['--partitions', '3']);
    expect(c.env).toEqual(
      expect.arrayContaining([
        { name: 'KAFKA_REPLICATION_FACTOR', value: '5' },
        { name: 'KAFKA_MIN_INSYNC_REPLICAS', value: '3' },
        { name: 'KAFKA_SSL', value: 'false' },
      ]),
    );
    const tooMany = template({ set: ['kafka.replicationFactor=2', 'kafka.minInsyncReplicas=3'] });
    expect(tooMany.status).not.toBe(0);
    expect(tooMany.stderr).toMatch(/no write could ever be acknowledged/);
    const secured = podSpec(
      find(
        rendered({
          set: [
            'kafka.tls.enabled=true',
            'kafka.tls.caSecret=kafka-ca',
            'kafka.tls.clientCertSecret=kafka-client',
            'kafka.sasl.mechanism=scram-sha-512',
            'kafka.sasl.username=aion',
            'kafka.sasl.password=pw',
            'kafka.topicsJob.topics={tasks.lifecycle,tasks.lifecycle.dlq}',
          ],
        }),
        'Job',
        'aion-kafka-topics',
      ),
    ).containers[0];
    expect(secured.args).toEqual(['--partitions', '3', 'tasks.lifecycle', 'tasks.lifecycle.dlq']);
    expect(secured.env).toEqual(
      expect.arrayContaining([
        { name: 'KAFKA_SSL', value: 'true' },
        { name: 'KAFKA_SSL_CA_FILE', value: '/etc/aion/tls/kafka-ca/ca.crt' },
        { name: 'KAFKA_SSL_CERT_FILE', value: '/etc/aion/tls/kafka-client/tls.crt' },
        { name: 'KAFKA_SASL_MECHANISM', value: 'scram-sha-512' },
        { name: 'KAFKA_SASL_USERNAME', value: 'aion' },
        {
          name: 'KAFKA_SASL_PASSWORD',
          valueFrom: { secretKeyRef: { name: 'aion-hooks', key: 'KAFKA_SASL_PASSWORD' } },
        },
      ]),
    );
    expect(secured.volumeMounts).toEqual(
      expect.arrayContaining([
        { name: 'kafka-ca', mountPath: '/etc/aion/tls/kafka-ca', readOnly: true },
        { name: 'kafka-client', mountPath: '/etc/aion/tls/kafka-client', readOnly: true },
      ]),
    );
  });

  it('points the observability service at Prometheus, Alertmanager and Loki, and gives it the webhook token', () => {
    const obs = (objects: typeof defaults) => find(objects, 'Deployment', 'aion-observability');
    expect(envOf(obs(defaults), 'AION_OBSERVABILITY_WEBHOOK_TOKEN').valueFrom.secretKeyRef).toEqual(
      {
        name: 'aion-secrets',
        key: 'AION_OBSERVABILITY_WEBHOOK_TOKEN',
        optional: true,
      },
    );
    expect(envOf(obs(defaults), 'AION_OBSERVABILITY_PROMETHEUS_URL')).toBeUndefined();
    const set = rendered({
      set: [
        'services.observability.prometheusUrl=http://prometheus.monitoring:9090',
        'services.observability.alertmanagerUrl=http://alertmanager.monitoring:9093',
        'services.observability.lokiUrl=http://loki.logging:3100',
      ],
    });
    expect(envOf(obs(set), 'AION_OBSERVABILITY_PROMETHEUS_URL').value).toBe(
      'http://prometheus.monitoring:9090',
    );
    expect(envOf(obs(set), 'AION_OBSERVABILITY_ALERTMANAGER_URL').value).toBe(
      'http://alertmanager.monitoring:9093',
    );
    expect(envOf(obs(set), 'AION_OBSERVABILITY_LOKI_URL').value).toBe('http://loki.logging:3100');
    // Tenants' Langfuse secret keys by reference: a Secret the operator names, mounted read-only
    // as files <tenant_id>.<name>; none by default (no tenant can enable LLM tracing then).
    expect(envOf(obs(defaults), 'AION_OBSERVABILITY_SECRETS_DIR')).toBeUndefined();
    expect(podSpec(obs(defaults)).volumes.map((v: { name: string }) => v.name)).not.toContain(
      'observability-secrets',
    );
    const withKeys = rendered({ set: ['services.observability.llmTracingSecret=langfuse-keys'] });
    const keys = obs(withKeys);
    expect(envOf(keys, 'AION_OBSERVABILITY_SECRETS_DIR').value).toBe(
      '/etc/aion/observability-secrets',
    );
    expect(podSpec(keys).containers[0].volumeMounts).toContainEqual({
      name: 'observability-secrets',
      mountPath: '/etc/aion/observability-secrets',
      readOnly: true,
    });
    expect(podSpec(keys).volumes).toContainEqual({
      name: 'observability-secrets',
      secret: { secretName: 'langfuse-keys', defaultMode: 0o440 },
    });
    // No other workload gets them.
    for (const d of deployments(withKeys).filter((d) => d !== keys))
      expect(JSON.stringify(d)).not.toContain('langfuse-keys');
    // Operator mode: PrometheusRule objects in the release namespace, with a token and a Role
    // for them alone, and the Kubernetes API as an egress.
    expect(podSpec(obs(defaults)).automountServiceAccountToken).toBe(false);
    const operator = rendered({
      set: [
        'services.observability.writePrometheusRules=true',
        'monitoring.prometheusRules.labels.release=prometheus',
      ],
    });
    expect(envOf(obs(operator), 'AION_OBSERVABILITY_RULES_NAMESPACE').value).toBe('aion');
    expect(envOf(obs(operator), 'AION_OBSERVABILITY_RULES_LABELS').value).toBe(
      'release=prometheus',
    );
    expect(podSpec(obs(operator)).automountServiceAccountToken).toBe(true);
    expect(find(operator, 'Role', 'aion-observability').rules).toEqual([
      {
        apiGroups: ['monitoring.coreos.com'],
        resources: ['prometheusrules'],
        verbs: ['get', 'list', 'create', 'update', 'delete'],
      },
    ]);
    expect(find(operator, 'RoleBinding', 'aion-observability').subjects[0].name).toBe(
      'aion-observability',
    );
    expect(
      find(operator, 'NetworkPolicy', 'aion-observability').spec.egress.flatMap(
        (r: { ports: { port: number }[] }) => r.ports.map((p) => p.port),
      ),
    ).toEqual([50052, 9090, 9093, 3100, 443, 6443]);

    // Alertmanager may call the webhook on the HTTP port.
    const ingress = find(set, 'NetworkPolicy', 'aion-observability').spec.ingress as {
      from: { podSelector?: { matchLabels?: Record<string, string> } }[];
      ports: { port: number }[];
    }[];
    expect(
      ingress.some(
        (r) =>
          r.ports[0]!.port === 8084 &&
          r.from.some(
            (f) => f.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'alertmanager',
          ),
      ),
    ).toBe(true);
  });

  it('generates the platform secrets once (lookup) and hands Kafka TLS and SASL to every service', () => {
    const secret = find(defaults, 'Secret', 'aion-secrets');
    expect(Object.keys(secret.data).sort()).toEqual([
      'AION_BOOTSTRAP_ADMIN_KEY',
      'AION_INTERNAL_TOKEN_SECRET',
      'AION_OBSERVABILITY_WEBHOOK_TOKEN',
      'AION_SOVEREIGN_RECEIPT_KEY_PASSPHRASE',
    ]);
    for (const value of Object.values(secret.data) as string[])
      expect(Buffer.from(value, 'base64').toString()).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(secret.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
    const own = rendered({ set: ['secrets.existingSecret=mine'] });
    expect(own.some((o) => o.metadata.name === 'aion-secrets')).toBe(false);
    expect(
      envOf(find(own, 'Deployment', 'aion-gateway'), 'AION_INTERNAL_TOKEN_SECRET').valueFrom
        .secretKeyRef.name,
    ).toBe('mine');

    const kafka = rendered({
      set: [
        'kafka.tls.enabled=true',
        'kafka.tls.clientCertSecret=kafka-client',
        'kafka.sasl.mechanism=plain',
        'kafka.sasl.username=u',
        'kafka.sasl.existingSecret=kafka-pw',
      ],
    });
    expect(find(kafka, 'ConfigMap', 'aion-env').data).toEqual(
      expect.objectContaining({
        KAFKA_SSL: 'true',
        KAFKA_SSL_CERT_FILE: '/etc/aion/tls/kafka-client/tls.crt',
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: 'u',
      }),
    );
    expect(
      envOf(find(kafka, 'Deployment', 'aion-orchestrator'), 'KAFKA_SASL_PASSWORD').valueFrom,
    ).toEqual({
      secretKeyRef: { name: 'kafka-pw', key: 'password' },
    });
  });

  it('hands Redis TLS with a private CA and a client certificate to the services that use Redis', () => {
    const all = rendered({
      set: ['redis.tls=true', 'redis.caSecret=redis-ca', 'redis.clientCertSecret=redis-client'],
    });
    const gateway = find(all, 'Deployment', 'aion-gateway');
    const spec = podSpec(gateway);
    expect(envOf(gateway, 'REDIS_TLS_CA_FILE').value).toBe('/etc/aion/tls/redis-ca/ca.crt');
    expect(envOf(gateway, 'REDIS_TLS_CERT_FILE').value).toBe('/etc/aion/tls/redis-client/tls.crt');
    expect(envOf(gateway, 'REDIS_TLS_KEY_FILE').value).toBe('/etc/aion/tls/redis-client/tls.key');
    expect(spec.volumes).toEqual(
      expect.arrayContaining([
        {
          name: 'redis-ca',
          secret: { secretName: 'redis-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] },
        },
        { name: 'redis-client', secret: { secretName: 'redis-client' } },
      ]),
    );
    expect(spec.containers[0].volumeMounts).toEqual(
      expect.arrayContaining([
        { name: 'redis-ca', mountPath: '/etc/aion/tls/redis-ca', readOnly: true },
        { name: 'redis-client', mountPath: '/etc/aion/tls/redis-client', readOnly: true },
      ]),
    );
    expect(find(all, 'Secret', 'aion-connections').stringData.REDIS_URL).toMatch(/^rediss:\/\//);
    // Services without Redis get neither the files nor the variables.
    const orchestrator = find(all, 'Deployment', 'aion-orchestrator');
    expect(JSON.stringify(podSpec(orchestrator))).not.toMatch(/redis-ca|REDIS_TLS/);
    const plain = template({ set: ['redis.caSecret=redis-ca'] });
    expect(plain.status).not.toBe(0);
    expect(plain.stderr).toMatch(/need redis.tls: true/);
  });

  it('verifies PostgreSQL against a private CA in the services and the migration hook', () => {
    const all = rendered({ set: ['postgresql.sslMode=verify-full', 'postgresql.caSecret=pg-ca'] });
    const volume = {
      name: 'postgresql-ca',
      secret: { secretName: 'pg-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] },
    };
    const mount = { name: 'postgresql-ca', mountPath: '/etc/aion/tls/postgresql', readOnly: true };
    const query = '?sslmode=verify-full&sslrootcert=/etc/aion/tls/postgresql/ca.crt';
    for (const name of ['aion-gateway', 'aion-orchestrator', 'aion-sovereign-ai']) {
      const spec = podSpec(find(all, 'Deployment', name));
      expect(spec.volumes).toEqual(expect.arrayContaining([volume]));
      expect(spec.containers[0].volumeMounts).toEqual(expect.arrayContaining([mount]));
    }
    expect(find(all, 'Secret', 'aion-connections').stringData.DATABASE_URL).toContain(query);
    const migrate = find(all, 'Job', 'aion-migrate');
    expect(podSpec(migrate).volumes).toEqual(expect.arrayContaining([volume]));
    expect(podSpec(migrate).containers[0].volumeMounts).toEqual(expect.arrayContaining([mount]));
    expect(find(all, 'Secret', 'aion-hooks').stringData.DATABASE_URL).toContain(query);
    // Without a CA the URL names none, and no pod mounts one.
    const plain = rendered({});
    expect(find(plain, 'Secret', 'aion-connections').stringData.DATABASE_URL).not.toMatch(
      /sslrootcert/,
    );
    expect(JSON.stringify(plain)).not.toMatch(/postgresql-ca/);
  });

  it('rolls the pods when a config file changes (checksum annotation)', () => {
    const checksum = (all: K8sObject[]) =>
      find(all, 'Deployment', 'aion-orchestrator').spec.template.metadata.annotations[
        'checksum/config'
      ];
    const before = checksum(defaults);
    const after = rendered({ set: ['config.policies=summarize: {forbid: [x]}'] });
    expect(checksum(after)).not.toBe(before);
    expect(find(after, 'ConfigMap', 'aion-files').data['policies.yaml']).toBe(
      'summarize: {forbid: [x]}\n',
    );
    expect(
      envOf(find(after, 'Deployment', 'aion-orchestrator'), 'AION_ORCHESTRATOR_POLICIES_FILE')
        .value,
    ).toBe('/etc/aion/config/policies.yaml');
    expect(checksum(rendered())).toBe(before);
    // The connections' checksum changes with a connection only: the generated platform secrets
    // (drawn afresh wherever lookup finds none) are not part of it, so an install's checksum is
    // the one its first upgrade computes and that upgrade rolls nothing by itself.
    const connections = (all: K8sObject[]) =>
      find(all, 'Deployment', 'aion-gateway').spec.template.metadata.annotations[
        'checksum/connections'
      ];
    expect(connections(rendered())).toBe(connections(defaults));
    expect(connections(rendered({ set: ['redis.password=changed'] }))).not.toBe(
      connections(defaults),
    );
  });

  it('runs the co-located profile as one core Deployment whose services call each other in-process', () => {
    const all = rendered({ set: ['profile=co-located'] });
    expect(
      deployments(all)
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual(['aion-core', 'aion-data-pipeline', 'aion-observability']);
    const core = find(all, 'Deployment', 'aion-core');
    expect(envOf(core, 'AION_SERVICES').value).toBe(
      'module-host,sovereign-ai,orchestrator,gateway',
    );
    // The default pool is the core process itself: in-process calls.
    expect(envOf(core, 'AION_ORCHESTRATOR_MODULE_HOST_POOLS').value).toBe(
      'cpu=cpu@127.0.0.1:50055',
    );
    expect(envOf(core, 'AION_MODULE_HOST_POOL').value).toBe('cpu');
    expect(envOf(core, 'AION_MODULE_HOST_ACCELERATOR').value).toBe('cpu');
    expect(envOf(core, 'AION_GATEWAY_ORCHESTRATOR_ADDRESS').value).toBe('127.0.0.1:50051');
    expect(find(all, 'ConfigMap', 'aion-env').data.AION_CO_LOCATED).toBe('true');
    expect(find(all, 'Service', 'aion-gateway').spec.selector['app.kubernetes.io/component']).toBe(
      'core',
    );
    // The co-located pod talks to the Kubernetes API for sovereign-ai.
    expect(podSpec(core).automountServiceAccountToken).toBe(true);
  });

  it('off by default, on by values: ServiceMonitors, burn-rate PrometheusRules and Grafana dashboards', () => {
    const kinds = (all: K8sObject[]) => all.map((o) => o.kind);
    expect(kinds(defaults)).not.toContain('ServiceMonitor');
    expect(kinds(defaults)).not.toContain('PrometheusRule');
    const on = rendered({
      set: [
        'monitoring.serviceMonitors.enabled=true',
        'monitoring.prometheusRules.enabled=true',
        'monitoring.dashboards.enabled=true',
      ],
    });
    // /metrics where each service serves it: the gateway on its ops port only (its HTTP port is
    // public and has none), the others on HTTP; in the co-located core, each service's own port.
    const scraped = (all: K8sObject[], name: string) => {
      const monitor = find(all, 'ServiceMonitor', name);
      return {
        components: monitor.spec.selector.matchExpressions,
        ports: monitor.spec.endpoints.map((e: { port: string }) => e.port),
      };
    };
    expect(scraped(on, 'aion-ops')).toEqual({
      components: [
        { key: 'app.kubernetes.io/component', operator: 'In', values: ['gateway', 'core'] },
      ],
      ports: ['ops'],
    });
    expect(scraped(on, 'aion')).toEqual({
      components: [
        { key: 'app.kubernetes.io/component', operator: 'Exists' },
        { key: 'app.kubernetes.io/component', operator: 'NotIn', values: ['gateway', 'core'] },
      ],
      ports: ['http'],
    });
    const coLocated = rendered({
      set: ['monitoring.serviceMonitors.enabled=true', 'profile=co-located'],
    });
    const corePorts = find(coLocated, 'Service', 'aion-core-headless').spec.ports.map(
      (p: { name: string }) => p.name,
    );
    expect(scraped(coLocated, 'aion-ops').ports).toEqual([
      'ops',
      'http-orc',
      'http-sov',
      'http-mh',
    ]);
    for (const port of scraped(coLocated, 'aion-ops').ports) expect(corePorts).toContain(port);
    // The platform SLOs' rules as the observability service generates them (files/rules, kept
    // equal to the generator by apps/observability/src/core/chart-rules.spec.ts), in this namespace.
    type Rule = { alert?: string; expr: string; labels: Record<string, string> };
    const groupsOf = (all: K8sObject[]) =>
      find(all, 'PrometheusRule', 'aion').spec.groups as { name: string; rules: Rule[] }[];
    const shipped = (objective: string, namespace: string) =>
      (
        parse(
          readFileSync(
            path.join(chartDir, `files/rules/platform-slos-${objective}.yaml`),
            'utf8',
          ).replaceAll('__AION_RELEASE_NAMESPACE__', namespace),
        ) as { groups: unknown }
      ).groups;
    expect(groupsOf(on)).toEqual(shipped('0.999', 'aion'));
    expect(groupsOf(on).map((g) => g.name)).toEqual(
      [
        'gateway',
        'orchestrator',
        'sovereign-ai',
        'data-pipeline',
        'observability',
        'module-host',
      ].map((s) => `aion-slo-platform-${s}-availability`),
    );
    const gateway = groupsOf(on)[0]!.rules;
    // Pages at 1h/5m and 6h/30m, a ticket at 3d/6h, each behind the minimum-traffic guard.
    expect(
      gateway
        .filter((r) => r.alert)
        .map((r) => [r.alert, r.labels['severity'], r.labels['long_window'], r.expr.split('\n')]),
    ).toEqual([
      [
        'AionSloErrorBudgetBurn',
        'page',
        '1h',
        [
          'aion_slo:error_ratio:rate1h{aion_slo_id="platform-gateway-availability",namespace="aion"} > 0.0144',
          'and aion_slo:error_ratio:rate5m{aion_slo_id="platform-gateway-availability",namespace="aion"} > 0.0144',
          'and aion_slo:events:rate1h{aion_slo_id="platform-gateway-availability",namespace="aion"} * 3600 >= 70',
        ],
      ],
      ['AionSloErrorBudgetBurn', 'page', '6h', expect.any(Array)],
      ['AionSloErrorBudgetBurn', 'ticket', '3d', expect.any(Array)],
    ]);
    expect(gateway[0]!.expr).toContain(
      'aion_http_requests_total{namespace="aion",service="gateway",status!~"5.."}[5m]',
    );
    // Another namespace and objective: another release's rules, another file's thresholds.
    const prod = groupsOf(
      rendered({
        namespace: 'prod',
        set: ['monitoring.prometheusRules.enabled=true'],
        // --set would pass 0.99 as a string.
        setJson: ['monitoring.prometheusRules.availabilityObjective=0.99'],
      }),
    );
    const prodText = JSON.stringify(prod);
    expect(prodText).not.toMatch(/__AION_RELEASE_NAMESPACE__|namespace=\\"aion\\"/);
    expect(prod[0]!.rules.find((r) => r.alert)!.expr).toMatch(
      /^aion_slo:error_ratio:rate1h\{aion_slo_id="platform-gateway-availability",namespace="prod"\} > 0.144\n/,
    );
    const dashboards = find(on, 'ConfigMap', 'aion-dashboards');
    expect(dashboards.metadata.labels?.['grafana_dashboard']).toBe('1');
    expect(JSON.parse(dashboards.data['aion-overview.json']).uid).toBe('aion-overview');
    // The seven platform dashboards of the observability service (issue 16), whole.
    for (const uid of [
      'aion-infrastructure',
      'aion-llm-operations',
      'aion-agent-workflow',
      'aion-governance',
      'aion-executive',
      'aion-cost-attribution',
      'aion-security',
    ]) {
      const model = JSON.parse(dashboards.data[`${uid}.json`]);
      expect([uid, model.uid, model.panels.length > 3]).toEqual([uid, uid, true]);
    }
  });

  it('the values schema rejects unknown keys and wrong types, naming them', () => {
    const cases: [string[], string[], RegExp][] = [
      [['gatway.replicas=3'], [], /additional properties 'gatway' not allowed/],
      [
        ['services.gateway.replicaz=3'],
        [],
        /\/services\/gateway.*additional properties 'replicaz' not allowed/,
      ],
      [
        ['kafka.replicationFactor=three'],
        [],
        /\/kafka\/replicationFactor.*got string, want integer/,
      ],
      [['profile=single'], [], /\/profile/],
      [
        [],
        ['moduleHost.pools=[{"name":"gpu","preset":"cuda","gpus":2}]'],
        /additional properties 'gpus' not allowed/,
      ],
      [[], ['moduleHost.pools=[{"preset":"cuda"}]'], /missing property 'name'/],
      [['grpcTls.enabled=true'], [], /\/grpcTls\/secret/],
      // Only objectives whose generated rules the chart holds.
      [
        [],
        ['monitoring.prometheusRules.availabilityObjective=0.98'],
        /\/monitoring\/prometheusRules\/availabilityObjective.*value must be one of/,
      ],
      [
        ['rbac.sovereignAiNamespacePolicy=yes'],
        [],
        /\/rbac\/sovereignAiNamespacePolicy.*got string, want boolean/,
      ],
      // The prefix goes into the policy's CEL strings: only a DNS label may.
      [
        ["services.sovereign-ai.k8sNamespacePrefix=x') || true || ('"],
        [],
        /\/services\/sovereign-ai\/k8sNamespacePrefix.*does not match pattern/,
      ],
      [
        ['services.observability.llmTracingSecret=../keys'],
        [],
        /\/services\/observability\/llmTracingSecret.*does not match pattern/,
      ],
    ];
    for (const [set, setJson, message] of cases) {
      const r = template({ set, setJson });
      expect({ set, setJson, status: r.status }).toEqual({ set, setJson, status: 1 });
      expect(r.stderr).toMatch(message);
    }
  });

  it('NOTES.txt tells how to reach the gateway and fetch the first admin key', () => {
    const r = run(tools.helm!, [
      'install',
      'aion',
      chartDir,
      '--dry-run=client',
      '--namespace',
      'aion',
    ]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/kubectl --namespace aion port-forward service\/aion-gateway 8080:80/);
    expect(r.stdout).toMatch(/get secret aion-secrets[\s\S]*AION_BOOTSTRAP_ADMIN_KEY/);
    // The pipeline's versions on an emptyDir by default: said so.
    expect(r.stdout).toMatch(/WARNING: the data pipeline keeps dataset versions in an emptyDir/);
  });

  it('gives the data pipeline writable storage, S3 with its credentials and egress, and residency through sovereign-ai', () => {
    const pod = (all: K8sObject[]) => podSpec(find(all, 'Deployment', 'aion-data-pipeline'));
    const plain = pod(defaults);
    const container = plain.containers[0];
    expect(
      envOf(find(defaults, 'Deployment', 'aion-data-pipeline'), 'AION_PIPELINE_STORAGE_DIR').value,
    ).toBe('/var/lib/aion/pipeline/store');
    // The root filesystem is read-only: data and the engine's spill files have volumes of their own.
    expect(plain.volumes).toEqual(
      expect.arrayContaining([
        { name: 'pipeline-data', emptyDir: {} },
        { name: 'pipeline-work', emptyDir: { sizeLimit: '20Gi' } },
      ]),
    );
    expect(container.volumeMounts).toEqual(
      expect.arrayContaining([
        { name: 'pipeline-data', mountPath: '/var/lib/aion/pipeline' },
        { name: 'pipeline-work', mountPath: '/var/lib/aion/pipeline-work' },
      ]),
    );
    expect(JSON.stringify(container.env)).not.toMatch(/AION_PIPELINE_(S3|JURISDICTION)/);
    expect(container.env).toContainEqual({ name: 'AION_PIPELINE_UPLOAD_RETENTION', value: '7d' });

    const configured = rendered({
      set: [
        'services.data-pipeline.jurisdiction=DE',
        'services.data-pipeline.storage.persistentVolumeClaim=pipeline-pvc',
        'services.data-pipeline.storage.s3.bucket=aion-data',
        'services.data-pipeline.storage.s3.endpoint=http://seaweed.storage:8333',
        'services.data-pipeline.storage.s3.existingSecret=s3-keys',
        'services.data-pipeline.uploads.retention=36h',
      ],
    });
    const deployment = find(configured, 'Deployment', 'aion-data-pipeline');
    expect(envOf(deployment, 'AION_PIPELINE_UPLOAD_RETENTION').value).toBe('36h');
    expect(() => rendered({ set: ['services.data-pipeline.uploads.retention=2weeks'] })).toThrow(
      /\/services\/data-pipeline\/uploads\/retention.*does not match pattern/,
    );
    expect(pod(configured).volumes).toContainEqual({
      name: 'pipeline-data',
      persistentVolumeClaim: { claimName: 'pipeline-pvc' },
    });
    expect(envOf(deployment, 'AION_PIPELINE_JURISDICTION').value).toBe('DE');
    expect(envOf(deployment, 'AION_PIPELINE_SOVEREIGN_ADDRESS').value).toBe(
      'dns:///aion-sovereign-ai.aion.svc.cluster.local:50052',
    );
    expect(envOf(deployment, 'AION_PIPELINE_S3_BUCKET').value).toBe('aion-data');
    expect(envOf(deployment, 'AION_PIPELINE_S3_ENDPOINT').value).toBe(
      'http://seaweed.storage:8333',
    );
    expect(envOf(deployment, 'AION_PIPELINE_S3_SECRET_ACCESS_KEY').valueFrom).toEqual({
      secretKeyRef: { name: 's3-keys', key: 'secretAccessKey' },
    });
    const policy = find(configured, 'NetworkPolicy', 'aion-data-pipeline').spec;
    const ports = policy.egress.flatMap((r: { ports: { port: number }[] }) =>
      r.ports.map((p) => p.port),
    );
    expect(ports).toEqual([50052, 8333]);
    // sovereign-ai admits the pipeline's calls only when it asks for residency decisions.
    const sovereignFrom = (all: K8sObject[]) =>
      JSON.stringify(find(all, 'NetworkPolicy', 'aion-sovereign-ai').spec.ingress);
    expect(sovereignFrom(configured)).toContain('aion.io/runs-data-pipeline');
    expect(sovereignFrom(defaults)).not.toContain('aion.io/runs-data-pipeline');
    // Co-located: sovereign-ai answers from the core's pods.
    const colocated = rendered({
      set: ['profile=co-located', 'services.data-pipeline.jurisdiction=DE'],
    });
    expect(
      envOf(find(colocated, 'Deployment', 'aion-data-pipeline'), 'AION_PIPELINE_SOVEREIGN_ADDRESS')
        .value,
    ).toBe('dns:///aion-core-headless.aion.svc.cluster.local:50052');

    // Outbound sources: none by default (no allowlist, no accounts, no egress beyond the above).
    expect(JSON.stringify(container.env)).not.toMatch(/AION_PIPELINE_(EGRESS|\w+_SOURCES)/);
    const sources = rendered({
      set: [
        'services.data-pipeline.sources.egressAllow={*.example.com,10.20.0.0/16}',
        'services.data-pipeline.sources.existingSecret=pipeline-accounts',
        'services.data-pipeline.sources.ports={443}',
      ],
    });
    const withSources = find(sources, 'Deployment', 'aion-data-pipeline');
    expect(envOf(withSources, 'AION_PIPELINE_EGRESS_ALLOW').value).toBe(
      '*.example.com,10.20.0.0/16',
    );
    // Accounts come from the Secret by reference, each key optional.
    for (const [variable, key] of [
      ['AION_PIPELINE_S3_SOURCES', 's3'],
      ['AION_PIPELINE_REST_SOURCES', 'rest'],
      ['AION_PIPELINE_KAFKA_SOURCES', 'kafka'],
    ])
      expect(envOf(withSources, variable!).valueFrom).toEqual({
        secretKeyRef: { name: 'pipeline-accounts', key, optional: true },
      });
    const sourcePorts = find(sources, 'NetworkPolicy', 'aion-data-pipeline').spec.egress.flatMap(
      (r: { ports: { port: number }[] }) => r.ports.map((p) => p.port),
    );
    expect(sourcePorts).toEqual([443]);
    expect(() => rendered({ set: ['services.data-pipeline.sources.egressAllow={a b}'] })).toThrow();
  });
});
