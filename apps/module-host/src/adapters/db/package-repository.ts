import type { JsonObject } from '@bufbuild/protobuf';
import { and, arrayContains, asc, count, eq } from 'drizzle-orm';
import semver from 'semver';
import { withTenant, type Db, type Tx } from '@aion/db';
import { AionError } from '@aion/errors';
import type { OutboxWriter } from '@aion/events';
import { currentTenant, SYSTEM_TENANT } from '@aion/tenancy';
import { storedManifest } from '../../core/manifest';
import type {
  AuditEntry,
  PackageRepository,
  PackageSummary,
  StoredPackage,
} from '../../core/ports';
import { packageFiles, packages } from './schema';

type PackageRow = typeof packages.$inferSelect;

function toSummary(row: PackageRow): PackageSummary {
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    manifest: storedManifest(row.manifest),
    digestSha256: row.digestSha256,
    installedAt: row.installedAt,
  };
}

/** A module audit record (audit.activity) in the transaction of the change it records. */
export async function recordModuleAudit(
  outbox: OutboxWriter,
  tx: Tx,
  tenantId: string,
  entry: AuditEntry,
): Promise<void> {
  await outbox.add(tx, {
    type: 'audit.recorded',
    key: entry.resourceId,
    tenantId,
    payload: {
      actor: currentTenant()?.subject ?? 'module-host',
      action: entry.action,
      resourceType: 'module',
      resourceId: entry.resourceId,
      outcome: entry.outcome ?? 'success',
      details: entry.details as JsonObject,
    },
  });
}

/** Packages in PostgreSQL (or PGlite): every replica sees the same packages and compiles its own cache. */
export class PostgresPackageRepository implements PackageRepository {
  constructor(
    private readonly db: Db,
    private readonly outbox: OutboxWriter,
  ) {}

  /** A transaction in the acting tenant (platform actions outside a request act as the system tenant). */
  private transaction<T>(fn: (tx: Tx, tenantId: string) => Promise<T>): Promise<T> {
    const tenantId = currentTenant()?.tenantId ?? SYSTEM_TENANT;
    return withTenant(this.db, tenantId, (tx) => fn(tx, tenantId));
  }

  private audit(tx: Tx, tenantId: string, entry: AuditEntry): Promise<void> {
    return recordModuleAudit(this.outbox, tx, tenantId, entry);
  }

  async insert(pkg: StoredPackage, audit: AuditEntry): Promise<void> {
    try {
      await this.transaction(async (tx, tenantId) => {
        await tx.insert(packages).values({
          id: pkg.id,
          name: pkg.name,
          version: pkg.version,
          manifest: pkg.manifest,
          intents: pkg.manifest.intents,
          wasm: pkg.wasm,
          digestSha256: pkg.digestSha256,
          installedAt: pkg.installedAt,
        });
        if (pkg.files.size)
          await tx.insert(packageFiles).values(
            [...pkg.files.entries()].map(([path, content]) => ({
              packageId: pkg.id,
              path,
              content,
            })),
          );
        await this.audit(tx, tenantId, audit);
      });
    } catch (err) {
      if (
        String(
          (err as { code?: unknown }).code ?? (err as { cause?: { code?: unknown } }).cause?.code,
        ) === '23505'
      ) {
        throw AionError.conflict(`${pkg.name}@${pkg.version} is already installed`);
      }
      throw err;
    }
  }

  async find(name: string, version?: string): Promise<StoredPackage | undefined> {
    const id = await this.resolve(name, version);
    return id ? this.findById(id) : undefined;
  }

  async resolve(name: string, version?: string): Promise<string | undefined> {
    const rows = await this.db
      .select({ id: packages.id, version: packages.version })
      .from(packages)
      .where(
        version
          ? and(eq(packages.name, name), eq(packages.version, version))
          : eq(packages.name, name),
      );
    // The newest version by semantic-version order, not by install time.
    return rows.sort((a, b) => semver.rcompare(a.version, b.version))[0]?.id;
  }

  async findById(id: string): Promise<StoredPackage | undefined> {
    const [row] = await this.db.select().from(packages).where(eq(packages.id, id));
    if (!row) return undefined;
    const files = await this.db
      .select()
      .from(packageFiles)
      .where(eq(packageFiles.packageId, row.id));
    return {
      ...toSummary(row),
      wasm: row.wasm,
      files: new Map(files.map((f) => [f.path, f.content])),
    };
  }

  async list(options: {
    intent?: string;
    limit: number;
    offset: number;
  }): Promise<{ items: PackageSummary[]; total: number }> {
    const where = options.intent ? arrayContains(packages.intents, [options.intent]) : undefined;
    const columns = {
      id: packages.id,
      name: packages.name,
      version: packages.version,
      manifest: packages.manifest,
      digestSha256: packages.digestSha256,
      installedAt: packages.installedAt,
    };
    const [rows, [total]] = await Promise.all([
      this.db
        .select(columns)
        .from(packages)
        .where(where)
        .orderBy(asc(packages.name), asc(packages.installedAt))
        .limit(options.limit)
        .offset(options.offset),
      this.db.select({ n: count() }).from(packages).where(where),
    ]);
    return {
      items: rows.map((r) => ({ ...r, manifest: storedManifest(r.manifest) })),
      total: total?.n ?? 0,
    };
  }

  async remove(name: string, version: string | undefined, audit: AuditEntry): Promise<number> {
    return this.transaction(async (tx, tenantId) => {
      const removed = await tx
        .delete(packages)
        .where(
          version
            ? and(eq(packages.name, name), eq(packages.version, version))
            : eq(packages.name, name),
        )
        .returning({ id: packages.id });
      if (removed.length)
        await this.audit(tx, tenantId, {
          ...audit,
          details: { ...audit.details, versions_removed: removed.length },
        });
      return removed.length;
    });
  }
}
