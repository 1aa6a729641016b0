import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import {
  foreignObjectRefusal,
  foreignOwnership,
  type ClusterPort,
  type DeploymentManifests,
  type ExistingObject,
} from '../../core/deployments';

/**
 * Render mode (the embedded default): writes each deployment's manifests to
 * `<dir>/<namespace>/<workload>.yaml` for a GitOps controller to apply. The workload name is
 * unique per tenant and deployment, so each file is one tenant's; a file already there is only
 * rewritten or deleted when it holds the same deployment. The rollout is reported back through
 * the API, since nothing here can see the cluster.
 */
export class RenderedCluster implements ClusterPort {
  readonly mode = 'render' as const;

  constructor(private readonly dir: string) {}

  private fileOf(m: DeploymentManifests): string {
    return path.join(this.dir, m.namespace.metadata.name, `${m.deployment.metadata.name}.yaml`);
  }

  async deploy(m: DeploymentManifests): Promise<void> {
    const file = this.fileOf(m);
    await this.refuseUnlessOwn(file, m, 'replace');
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
    const file = this.fileOf(m);
    if (await this.refuseUnlessOwn(file, m, 'delete')) await rm(file, { force: true });
  }

  /** False when there is no file; true when it holds this deployment; throws otherwise. */
  private async refuseUnlessOwn(
    file: string,
    m: DeploymentManifests,
    action: 'replace' | 'delete',
  ): Promise<boolean> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    const why = foreignOwnership(deploymentIn(text), m.deployment);
    if (why) throw foreignObjectRefusal(m.deployment, why, action);
    return true;
  }
}

/** The Deployment of a rendered file, or undefined when the file is not valid manifests. */
function deploymentIn(text: string): ExistingObject | undefined {
  const docs = parseAllDocuments(text);
  if (docs.some((d) => d.errors.length > 0)) return undefined;
  const objects = docs.map((d) => d.toJS() as unknown);
  return objects.find(
    (o): o is ExistingObject =>
      typeof o === 'object' && o !== null && (o as { kind?: unknown }).kind === 'Deployment',
  );
}
