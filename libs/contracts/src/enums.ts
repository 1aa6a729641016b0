import type { DescEnum } from '@bufbuild/protobuf';

/**
 * A domain's words and a generated protobuf enum, mapped once, read off the enum's own
 * descriptor: a domain value is the enum value whose short name it is (QUEUED ->
 * TASK_STATUS_QUEUED, pii -> DATA_CLASSIFICATION_PII), so a value added on one side and not the
 * other fails at startup, not on the wire.
 */
export function enumByShortName<D extends string, E extends number>(
  schema: DescEnum,
  domain: readonly D[],
): { toProto: Record<D, E>; fromProto: Partial<Record<number, D>> } {
  const numbers = new Map(schema.values.map((v) => [v.localName.toLowerCase(), v.number]));
  const toProto = {} as Record<D, E>;
  const fromProto: Partial<Record<number, D>> = {};
  for (const name of domain) {
    const number = numbers.get(name.toLowerCase());
    if (number === undefined) throw new Error(`${schema.typeName} has no value for ${name}`);
    toProto[name] = number as E;
    fromProto[number] = name;
  }
  return { toProto, fromProto };
}
