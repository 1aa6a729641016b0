import type { ErrorDetail } from '@aion/errors';
import {
  jsonSchemaProblem,
  type AgentManifest,
  type DeclaredManifest,
  type SchemaSource,
} from './manifest';

export interface ResolvedManifest {
  manifest: AgentManifest;
  /** The files the module may read, by package path. */
  readable: Map<string, Uint8Array>;
  /** Package files the manifest took its entrypoint schemas from, in declaration order. */
  schemaFiles: string[];
}

/**
 * Completes a declared manifest from the package's own files: schema paths become the schemas
 * they name, `filesystem: read-only` becomes the package's files (all but its module, which
 * the host loads itself). Every file the manifest names must be in the package.
 */
export function resolveManifest(
  declared: DeclaredManifest,
  contents: ReadonlyMap<string, Uint8Array>,
): { resolved: ResolvedManifest; problems: [] } | { resolved: undefined; problems: ErrorDetail[] } {
  const problems: ErrorDetail[] = [];
  const readable = new Map<string, Uint8Array>();
  const { filesystem } = declared.permissions;
  if (filesystem === 'package') {
    for (const [file, content] of contents)
      if (file !== declared.runtime.module) readable.set(file, content);
  } else {
    filesystem.forEach((file, i) => {
      const content = contents.get(file);
      if (content) readable.set(file, content);
      else
        problems.push({
          field: `permissions.filesystem.${i}`,
          message: `${file} is declared but not in the package`,
        });
    });
  }
  const schemaFiles: string[] = [];
  const schemaOf = (source: SchemaSource): Record<string, unknown> => {
    if ('schema' in source) return source.schema;
    schemaFiles.push(source.file);
    const { schema, problem } = readSchemaFile(contents.get(source.file), source.file);
    if (problem) problems.push({ field: source.field, message: problem });
    return schema;
  };
  const entrypoints = declared.entrypoints.map(({ input, output, ...entry }) => ({
    ...entry,
    input_schema: schemaOf(input),
    output_schema: schemaOf(output),
  }));
  if (problems.length) return { resolved: undefined, problems };
  return {
    resolved: {
      manifest: {
        ...declared,
        permissions: {
          ...declared.permissions,
          filesystem: filesystem === 'package' ? [...readable.keys()].sort() : [...filesystem],
        },
        entrypoints,
      },
      readable,
      schemaFiles,
    },
    problems: [],
  };
}

function readSchemaFile(
  content: Uint8Array | undefined,
  file: string,
): { schema: Record<string, unknown>; problem?: string } {
  if (!content) return { schema: {}, problem: `${file} is not in the package` };
  let schema: unknown;
  try {
    schema = JSON.parse(Buffer.from(content).toString('utf8'));
  } catch (err) {
    return {
      schema: {},
      problem: `${file} is not JSON: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
    return { schema: {}, problem: `${file} must hold a JSON Schema object` };
  const record = schema as Record<string, unknown>;
  const problem = jsonSchemaProblem(record);
  return problem ? { schema: record, problem: `${file}: ${problem}` } : { schema: record };
}
