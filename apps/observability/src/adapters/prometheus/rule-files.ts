import { execFile } from 'node:child_process';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import { stringify } from 'yaml';
import { AionError } from '@aion/errors';
import type { RuleFile } from '../../core/burn-rate';
import type { RuleSink } from '../../core/rule-sync';

const run = promisify(execFile);

/**
 * One rule file per tenant in a directory Prometheus loads (`rule_files: [<dir>/*.yml]`), then
 * Prometheus told to reload (`POST /-/reload`, which needs --web.enable-lifecycle). A file is
 * replaced by a rename, so Prometheus never reads half of one, and only once `promtool check
 * rules` accepts it: a file Prometheus refuses would stop its reload for every tenant.
 */
export class PrometheusRuleFiles implements RuleSink {
  constructor(
    private readonly dir: string,
    private readonly prometheusUrl: string,
    private readonly timeoutMs: number,
    /** promtool's path; undefined where it is not installed (files go unchecked). */
    private readonly promtool: string | undefined,
  ) {}

  async write(tenantId: string, file: RuleFile): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const target = path.join(this.dir, `aion-${encodeURIComponent(tenantId)}.yml`);
    if (file.groups.length === 0) await rm(target, { force: true });
    else {
      const temp = `${target}.${process.pid}.tmp`;
      await writeFile(temp, stringify(file, { lineWidth: 0, aliasDuplicateObjects: false }));
      try {
        if (this.promtool)
          await run(this.promtool, ['check', 'rules', temp], { timeout: this.timeoutMs });
      } catch (err) {
        await rm(temp, { force: true });
        const out = err as { stdout?: string; stderr?: string; message: string };
        throw new AionError(
          'validation.invalid_argument',
          `promtool refused the rule file: ${(out.stderr || out.stdout || out.message).slice(0, 500)}`,
        );
      }
      await rename(temp, target);
    }
    let res: Response;
    try {
      res = await fetch(new URL('/-/reload', this.prometheusUrl), {
        method: 'POST',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new AionError('service.unavailable', 'Prometheus did not answer the reload', {
        cause: err,
      });
    }
    // A rule file Prometheus cannot load fails the reload (500) with its reason in the body.
    if (!res.ok)
      throw new AionError(
        'service.unavailable',
        `Prometheus refused the reload: ${(await res.text()).slice(0, 500)}`,
      );
  }
}
