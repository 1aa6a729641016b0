import * as z from 'zod/v4';
import { timestampDate, type Timestamp as WireTimestamp } from '@bufbuild/protobuf/wkt';
import type { ModuleService } from '@aion/contracts';
import type { ClientOf } from '@aion/grpc';
import { route, type Route } from '../routing/route';
import { PageInfo, PageQuery, Timestamp, Uuid } from '../../wire-schemas';
import { page, pageRequest } from './sovereign-json';

export type ModuleClient = ClientOf<typeof ModuleService>;

/** A module's name as manifests allow it (module-host's manifest schema). */
const ModuleName = z.string().regex(/^[a-z][a-z0-9_-]{1,62}$/);
const Version = z
  .string()
  .regex(/^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/)
  .max(64)
  .describe('A semantic version; the newest installed when absent');

/**
 * registry[:port]/repository[:tag | @sha256:digest], the repository in the distribution spec's
 * grammar: a subset of what module-host's parser takes, so what passes here never fails there.
 */
const OCI_REFERENCE =
  /^(?:https?:\/\/)?[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})(?::[0-9]{1,5})?\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|@sha256:[a-f0-9]{64})?$/;

export const InstallModuleRequest = z.strictObject({
  oci_reference: z
    .string()
    .max(512)
    .regex(
      OCI_REFERENCE,
      'must be registry/repository[:tag] or registry/repository@sha256:<digest>',
    )
    .describe(
      'The package as an OCI artifact: installed only when signed by a key the tenant trusts, with a signed SBOM naming no denied component; refused packages are quarantined',
    ),
});

const Module = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string(),
  description: z.string(),
  runtime: z.string().describe('wasm or subprocess'),
  intents: z.array(z.string()),
  entrypoints: z.array(z.object({ name: z.string() })),
  permissions: z.object({
    filesystem: z.array(z.string()),
    network: z.array(z.string()),
    secrets: z.array(z.string()),
  }),
  resources: z.object({
    memory_mb: z.int(),
    cpu_millis: z.int(),
    gpu_vendor: z.string(),
    accelerator: z.string().describe('cpu, cuda, rocm, oneapi or any-gpu'),
  }),
  timeout_ms: z.int(),
  retries: z.int(),
  digest_sha256: z.string(),
  installed_at: Timestamp.nullable(),
});

const QuarantinedModule = z.object({
  id: z.string(),
  reference: z.string(),
  digest: z.string(),
  name: z.string(),
  version: z.string(),
  reason: z
    .string()
    .describe(
      'unsigned, untrusted_key, untrusted_identity, untrusted_ca, certificate_expired, tlog_missing, tlog_invalid, invalid_signature, tampered, sbom_missing, sbom_invalid, component_denied or not_a_package',
    ),
  message: z.string(),
  sbom: z.record(z.string(), z.unknown()).nullable().describe('The SBOM as found, if any'),
  quarantined_at: Timestamp.nullable(),
});

type ModuleMessage = NonNullable<Awaited<ReturnType<ModuleClient['installModule']>>['module']>;
type QuarantinedMessage = NonNullable<
  Awaited<ReturnType<ModuleClient['getQuarantinedModule']>>['module']
>;

const iso = (t: WireTimestamp | undefined) => (t ? timestampDate(t).toISOString() : null);

const moduleJson = (m: ModuleMessage | undefined) => ({
  id: m?.id ?? '',
  name: m?.name ?? '',
  version: m?.version ?? '',
  description: m?.description ?? '',
  runtime: m?.runtime ?? '',
  intents: m?.intents ?? [],
  entrypoints: (m?.entrypoints ?? []).map((e) => ({ name: e.name })),
  permissions: {
    filesystem: m?.permissions?.filesystem ?? [],
    network: m?.permissions?.network ?? [],
    secrets: m?.permissions?.secrets ?? [],
  },
  resources: {
    memory_mb: m?.resources?.memoryMb ?? 0,
    cpu_millis: m?.resources?.cpuMillis ?? 0,
    gpu_vendor: m?.resources?.gpuVendor ?? '',
    accelerator: m?.resources?.accelerator || 'cpu',
  },
  timeout_ms: m?.timeoutMs ?? 0,
  retries: m?.retries ?? 0,
  digest_sha256: m?.digestSha256 ?? '',
  installed_at: iso(m?.installedAt),
});

const quarantinedJson = (q: QuarantinedMessage | undefined) => ({
  id: q?.id ?? '',
  reference: q?.reference ?? '',
  digest: q?.digest ?? '',
  name: q?.name ?? '',
  version: q?.version ?? '',
  reason: q?.reason ?? '',
  message: q?.message ?? '',
  sbom: q?.sbom ?? null,
  quarantined_at: iso(q?.quarantinedAt),
});

/**
 * /api/v1/modules: agent packages installed from an OCI registry (signature, SBOM and the
 * tenant's policy checked by module-host; refusals land in /api/v1/quarantined-modules).
 */
export function moduleRoutes(modules: ModuleClient, requestTimeoutMs: number): Route[] {
  const o = { deadlineMs: requestTimeoutMs };
  const tag = 'modules';
  const NamePath = z.strictObject({ name: ModuleName });
  const VersionQuery = z.strictObject({ version: Version.optional() });
  const IdPath = z.strictObject({ id: Uuid });
  return [
    route({
      method: 'post',
      path: '/api/v1/modules',
      operationId: 'installModule',
      summary: 'Install a signed agent package from an OCI registry',
      tag,
      access: 'operations:manage',
      request: { body: InstallModuleRequest },
      responses: { 201: { description: 'The installed module', schema: Module } },
      errors: [409, 422],
      async handle({ body }) {
        const r = await modules.installModule(
          { source: { case: 'ociReference', value: body.oci_reference } },
          o,
        );
        return { status: 201, body: moduleJson(r.module) };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/modules',
      operationId: 'listModules',
      summary: 'Installed modules of the tenant',
      tag,
      access: 'platform:read',
      request: {
        query: PageQuery.extend({
          intent: z.string().min(1).max(64).optional().describe('Only modules serving it'),
        }),
      },
      responses: {
        200: {
          description: 'A page of modules',
          schema: z.object({ data: z.array(Module), ...PageInfo }),
        },
      },
      async handle({ query }) {
        const r = await modules.listModules(
          { ...pageRequest(query), intent: query.intent ?? '' },
          o,
        );
        return { status: 200, body: { data: r.modules.map(moduleJson), ...page(r.page) } };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/modules/{name}',
      operationId: 'getModule',
      summary: 'An installed module and its manifest',
      tag,
      access: 'platform:read',
      request: { path: NamePath, query: VersionQuery },
      responses: {
        200: {
          description: 'The module',
          schema: Module.extend({ manifest: z.record(z.string(), z.unknown()) }),
        },
      },
      errors: [404],
      async handle({ path, query }) {
        const r = await modules.describeModule(
          { name: path.name, version: query.version ?? '' },
          o,
        );
        return { status: 200, body: { ...moduleJson(r.module), manifest: r.manifest ?? {} } };
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/modules/{name}',
      operationId: 'uninstallModule',
      summary: 'Uninstall a module (one version, or every version)',
      tag,
      access: 'operations:manage',
      request: { path: NamePath, query: VersionQuery },
      responses: { 204: { description: 'Uninstalled' } },
      errors: [404],
      async handle({ path, query }) {
        await modules.uninstallModule({ name: path.name, version: query.version ?? '' }, o);
        return { status: 204 };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/quarantined-modules',
      operationId: 'listQuarantinedModules',
      summary: 'Packages refused at install, never runnable',
      tag,
      access: 'operations:manage',
      request: { query: PageQuery },
      responses: {
        200: {
          description: 'A page of quarantined packages',
          schema: z.object({ data: z.array(QuarantinedModule), ...PageInfo }),
        },
      },
      async handle({ query }) {
        const r = await modules.listQuarantinedModules(pageRequest(query), o);
        return { status: 200, body: { data: r.modules.map(quarantinedJson), ...page(r.page) } };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/quarantined-modules/{id}',
      operationId: 'getQuarantinedModule',
      summary: 'Why a package was refused, with its SBOM',
      tag,
      access: 'operations:manage',
      request: { path: IdPath },
      responses: { 200: { description: 'The quarantined package', schema: QuarantinedModule } },
      errors: [404],
      async handle({ path }) {
        const r = await modules.getQuarantinedModule({ id: path.id }, o);
        return { status: 200, body: quarantinedJson(r.module) };
      },
    }),
    route({
      method: 'delete',
      path: '/api/v1/quarantined-modules/{id}',
      operationId: 'deleteQuarantinedModule',
      summary: 'Delete a quarantined package',
      tag,
      access: 'operations:manage',
      request: { path: IdPath },
      responses: { 204: { description: 'Deleted' } },
      errors: [404],
      async handle({ path }) {
        await modules.deleteQuarantinedModule({ id: path.id }, o);
        return { status: 204 };
      },
    }),
  ];
}
