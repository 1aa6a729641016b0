import { randomUUID } from 'node:crypto';
import { stringify as stringifyYaml } from 'yaml';
import { AionError } from '@aion/errors';
import type { JurisdictionRegistry } from '@aion/jurisdictions';
import type { Logger } from '@aion/telemetry';
import { requireTenant, runWithTenant } from '@aion/tenancy';
import { endpointOf, namespaceFor, renderManifests, type ClusterPort } from './deployments';
import { approvalFor } from './model-registry';
import type { DataContext, DeploymentStatus, PageWindow, RegionalDeployment } from './model';
import type { DeploymentStore, ModelStore, PolicyStore, RoutingLog } from './ports';
import type { ResidencyService } from './residency-service';
import { chooseDeployment } from './routing';

export interface DeploymentSettings {
  namespacePrefix: string;
  /** How long an applied rollout may take before the deployment is marked FAILED. */
  rolloutTimeoutMs: number;
  rolloutPollMs: number;
}

export interface DeployInput {
  jurisdiction: string;
  region: string;
  modelId: string;
  modelVersion: string;
  image: string;
  replicas: number;
}

const IMAGE = /^[a-z0-9][a-z0-9._\-/:@]{0,254}$/i;

/** Regional deployments of model servers, and routing of data to them. */
export class DeploymentService {
  private readonly watches = new Set<Promise<void>>();

  constructor(
    private readonly deployments: DeploymentStore,
    private readonly models: ModelStore,
    private readonly policies: PolicyStore,
    private readonly residency: ResidencyService,
    private readonly routingLog: RoutingLog,
    private readonly cluster: ClusterPort,
    private readonly jurisdictions: JurisdictionRegistry,
    private readonly settings: DeploymentSettings,
    private readonly logger: Logger,
  ) {}

  /**
   * Creates the deployment (PENDING, deployment.initiated), then applies or renders it
   * (DEPLOYING). Applied rollouts are watched until ACTIVE or FAILED; rendered ones wait for the
   * GitOps side to report through `updateStatus`. Only a model APPROVED in the jurisdiction may
   * be deployed there.
   */
  async deploy(input: DeployInput): Promise<{ deployment: RegionalDeployment; manifests: string }> {
    const jurisdiction = this.jurisdictions.normalize(input.jurisdiction, 'jurisdiction');
    if (!Number.isInteger(input.replicas) || input.replicas < 1 || input.replicas > 100)
      throw AionError.validation('replicas must be 1-100', [
        { field: 'replicas', message: '1-100' },
      ]);
    if (!IMAGE.test(input.image))
      throw AionError.validation('image must be an image reference', [
        { field: 'image', message: 'e.g. registry.local/vllm:0.6.3' },
      ]);
    const namespace = namespaceFor(this.settings.namespacePrefix, jurisdiction, input.region);
    const models = await this.models.all();
    if (!approvalFor(models, input.modelId, input.modelVersion, jurisdiction, this.jurisdictions))
      throw new AionError(
        'sovereign.model_not_approved',
        `model ${input.modelId}${input.modelVersion ? `@${input.modelVersion}` : ''} is not APPROVED for ${jurisdiction} in the sovereign registry`,
      );
    const created = await this.deployments.create(randomUUID(), {
      jurisdiction,
      region: input.region,
      namespace,
      modelId: input.modelId,
      modelVersion: input.modelVersion,
      image: input.image,
      replicas: input.replicas,
      mode: this.cluster.mode,
    });
    const manifests = renderManifests(created);
    const yaml = manifestsYaml(manifests);
    try {
      await this.cluster.deploy(manifests);
    } catch (err) {
      const failed = await this.deployments.transition(
        created.id,
        'FAILED',
        `the cluster refused the manifests: ${(err as Error).message}`,
      );
      // An AionError is the port's own refusal (another tenant's object holds the name): the
      // caller gets it, and the audit trail records it as denied.
      if (err instanceof AionError) throw err;
      return { deployment: failed, manifests: yaml };
    }
    const deploying = await this.deployments.transition(
      created.id,
      'DEPLOYING',
      this.cluster.mode === 'apply'
        ? 'applied; waiting for the rollout'
        : 'manifests rendered; waiting for the GitOps controller to report',
      endpointOf(created),
    );
    if (this.cluster.mode === 'apply') this.watch(deploying);
    return { deployment: deploying, manifests: yaml };
  }

  /** Render mode's report from GitOps (ACTIVE or FAILED), or decommissioning in any mode. */
  async updateStatus(id: string, to: DeploymentStatus, reason: string) {
    const current = await this.get(id);
    if (to === 'DECOMMISSIONED') await this.cluster.remove(renderManifests(current));
    else if (to !== 'ACTIVE' && to !== 'FAILED')
      throw AionError.validation('status must be ACTIVE, FAILED or DECOMMISSIONED', [
        { field: 'status', message: 'ACTIVE, FAILED or DECOMMISSIONED' },
      ]);
    return this.deployments.transition(
      id,
      to,
      reason || `set to ${to} by ${requireTenant().subject}`,
    );
  }

  async get(id: string) {
    const d = await this.deployments.get(id);
    if (!d) throw new AionError('resource.not_found', `deployment ${id} not found`);
    return d;
  }

  manifestsOf(d: RegionalDeployment): string {
    return manifestsYaml(renderManifests(d));
  }

  list(window: PageWindow, jurisdiction?: string) {
    return this.deployments.page(
      window,
      jurisdiction ? this.jurisdictions.normalize(jurisdiction, 'jurisdiction') : undefined,
    );
  }

  /** Picks the deployment for a piece of data and records the decision (routing.decision). */
  async route(data: DataContext, modelId: string, policyId: string, taskId: string) {
    const policy = policyId ? await this.policies.get(policyId) : undefined;
    if (policyId && !policy)
      throw new AionError('resource.not_found', `routing policy ${policyId} not found`);
    const [verdict, deployments, models] = await Promise.all([
      this.residency.verdict(data),
      this.deployments.all(),
      this.models.all(),
    ]);
    const outcome = chooseDeployment(
      { verdict, deployments, models, modelId, policy },
      this.jurisdictions,
    );
    await this.routingLog.record({
      taskId,
      data,
      deploymentId: outcome.deployment.id,
      jurisdiction: outcome.deployment.jurisdiction,
      ruleId: verdict.ruleId,
      reason: outcome.reason,
      usedFallback: outcome.usedFallback,
    });
    return { ...outcome, ruleId: verdict.ruleId };
  }

  /** Waits for running rollout watches (shutdown, tests). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.watches]);
  }

  private watch(d: RegionalDeployment): void {
    const context = requireTenant();
    const manifests = renderManifests(d);
    const deadline = Date.now() + this.settings.rolloutTimeoutMs;
    const run = async (): Promise<void> => {
      for (;;) {
        const state = await this.cluster.rollout(manifests).catch((err: unknown) => ({
          failed: `cannot read the rollout: ${(err as Error).message}`,
        }));
        if (state === 'ready') {
          await this.deployments.transition(
            d.id,
            'ACTIVE',
            'rollout complete: all replicas available',
          );
          return;
        }
        if (typeof state === 'object' || Date.now() > deadline) {
          const why =
            typeof state === 'object'
              ? state.failed
              : `rollout not complete after ${this.settings.rolloutTimeoutMs} ms`;
          await this.deployments.transition(d.id, 'FAILED', why);
          return;
        }
        await new Promise((r) => setTimeout(r, this.settings.rolloutPollMs));
      }
    };
    const watch = runWithTenant(context, run).catch((err: unknown) => {
      this.logger.warn('deployment rollout watch failed', {
        deployment: d.id,
        reason: err instanceof Error ? err.message : String(err),
      });
    });
    this.watches.add(watch);
    void watch.finally(() => this.watches.delete(watch));
  }
}

function manifestsYaml(m: ReturnType<typeof renderManifests>): string {
  // One multi-document YAML file, in the order kubectl apply needs.
  return [m.namespace, m.deployment, m.service].map((o) => stringifyYaml(o)).join('---\n');
}
