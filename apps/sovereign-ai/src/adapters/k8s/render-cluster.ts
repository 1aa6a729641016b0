import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import type { ClusterPort, DeploymentManifests } from '../../core/deployments';

/**
 * Render mode (the embedded default): writes each deployment's manifests to
 * `<dir>/<namespace>/<workload>.yaml` for a GitOps controller to apply. The rollout is reported
 * back through the API, since nothing here can see the cluster.
 */
export class RenderedCluster implements ClusterPort {
  readonly mode = 'render' as const;

  constructor(private readonly dir: string) {}

  private fileOf(m: DeploymentManifests): string {
    return path.join(this.dir, m.namespace.metadata.name, `${m.deployment.metadata.name}.yaml`);
  }

  async deploy(m: DeploymentManifests): Promise<void> {
    const file = this.fileOf(m);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(
      file,
      [m.namespace, m.deployment, m.service].map((o) => stringify(o)).join('---\n'),
    );
  }

  async rollout(): Promise<'unknown'> {
    return 'unknown';
  }

  async remove(m: DeploymentManifests): Promise<void> {
    await rm(this.fileOf(m), { force: true });
  }
}
