import { createHash } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';
import { AionError } from '@aion/errors';

/** The largest output schema a task may declare, serialized. */
const MAX_SCHEMA_BYTES = 32 * 1024;
const COMPILED_LIMIT = 256;

/**
 * What a task asks of a model's output, in OpenAI's `response_format`: a JSON object, or JSON
 * matching a JSON Schema. Undefined when it asks for plain text.
 */
export type OutputContract =
  { kind: 'json_object' } | { kind: 'json_schema'; name: string; schema: Record<string, unknown> };

export function outputContractOf(params: Record<string, unknown>): OutputContract | undefined {
  const format = params['response_format'];
  if (format === undefined || format === null) return undefined;
  const type = (format as { type?: unknown }).type;
  if (type === 'text') return undefined;
  if (type === 'json_object') return { kind: 'json_object' };
  const spec = (format as { json_schema?: { name?: unknown; schema?: unknown } }).json_schema;
  if (type === 'json_schema' && spec && typeof spec.schema === 'object' && spec.schema !== null)
    return {
      kind: 'json_schema',
      name: typeof spec.name === 'string' ? spec.name : 'output',
      schema: spec.schema as Record<string, unknown>,
    };
  throw AionError.validation(
    'response_format must be {"type":"text"}, {"type":"json_object"} or {"type":"json_schema","json_schema":{"name":…,"schema":{…}}}',
    [{ field: 'params.response_format', message: 'unsupported response_format' }],
  );
}

/**
 * Checks a model's text against the task's output contract before it is stored or returned:
 * it must parse as JSON (an object for json_object) and, for json_schema, match the schema
 * (ajv, draft 2020-12 features it supports). A mismatch is the task's error, named, never a
 * crash; the parsed value is returned for the result.
 */
export class OutputValidator {
  private readonly ajv = new Ajv({ allErrors: true, strict: false, validateSchema: true });
  private readonly compiled = new Map<string, ValidateFunction>();

  /** Compiles the contract's schema now, so a bad one fails before any model is called. */
  prepare(contract: OutputContract): void {
    if (contract.kind === 'json_schema') this.compile(contract.schema);
  }

  check(contract: OutputContract, text: string, engine: string): unknown {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw mismatch(engine, 'the answer is not JSON');
    }
    if (contract.kind === 'json_object') {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw mismatch(engine, 'the answer is not a JSON object');
      return value;
    }
    const validate = this.compile(contract.schema);
    if (!validate(value))
      throw mismatch(
        engine,
        `the answer does not match the output schema ${JSON.stringify(contract.name)}`,
        (validate.errors ?? []).slice(0, 10).map((e) => ({
          field: `output${e.instancePath.replace(/\//g, '.')}`,
          reason: e.keyword,
          message: e.message ?? 'does not match',
        })),
      );
    return value;
  }

  /** Compiles once per distinct schema; a schema that is not one is the caller's error. */
  private compile(schema: Record<string, unknown>): ValidateFunction {
    const text = JSON.stringify(schema);
    if (Buffer.byteLength(text) > MAX_SCHEMA_BYTES)
      throw AionError.validation(`the output schema is larger than ${MAX_SCHEMA_BYTES} bytes`);
    const key = createHash('sha256').update(text).digest('hex');
    const known = this.compiled.get(key);
    if (known) return known;
    let validate: ValidateFunction;
    try {
      validate = this.ajv.compile(schema);
    } catch (err) {
      throw AionError.validation(
        `the output schema is not a valid JSON Schema: ${(err as Error).message}`,
        [{ field: 'params.response_format.json_schema.schema', message: 'invalid JSON Schema' }],
      );
    }
    if (this.compiled.size >= COMPILED_LIMIT)
      this.compiled.delete(this.compiled.keys().next().value!);
    this.compiled.set(key, validate);
    return validate;
  }
}

function mismatch(
  engine: string,
  message: string,
  details?: { field: string; reason: string; message: string }[],
): AionError {
  return new AionError('validation.output_schema_mismatch', `engine ${engine}: ${message}`, {
    ...(details?.length ? { details } : {}),
  });
}
