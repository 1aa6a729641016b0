import { create, fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';

/** grpc-js (de)serializers from a protobuf-es message descriptor; shared by server and client. */
export function serializer(schema: DescMessage): (message: unknown) => Buffer {
  return (message) => Buffer.from(toBinary(schema, create(schema, message as never)));
}

export function deserializer(schema: DescMessage): (bytes: Buffer) => unknown {
  return (bytes) => fromBinary(schema, bytes);
}
