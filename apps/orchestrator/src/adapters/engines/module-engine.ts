import { fromJson, toJson, type JsonValue } from '@bufbuild/protobuf';
import { ValueSchema } from '@bufbuild/protobuf/wkt';
import { ModuleService } from '@aion/contracts';
import { AionError } from '@aion/errors';
import type { ClientOf } from '@aion/grpc';
import type { Engine } from '../../core/engines';
import type { EngineCall, EngineOutput } from '../../core/ports';
import { estimateTokens } from '../../core/tokens';

/** Runs `kind: module` engines on module-host (InvokeModuleStream), forwarding partial results. */
export class ModuleEngineExecutor {
  /** A module-host client, or the pools (ModuleHostPools) that pick one per module. */
  constructor(
    private readonly modules: Pick<ClientOf<typeof ModuleService>, 'invokeModuleStream'>,
  ) {}

  async execute(engine: Engine & { kind: 'module' }, call: EngineCall): Promise<EngineOutput> {
    const input = fromJson(ValueSchema, call.params as JsonValue);
    let output: unknown;
    for await (const message of this.modules.invokeModuleStream(
      { name: engine.module, entrypoint: engine.entrypoint ?? '', input },
      { signal: call.signal, ...(engine.timeout_ms ? { deadlineMs: engine.timeout_ms } : {}) },
    )) {
      if (message.event.case === 'partial') {
        let partial: unknown = message.event.value;
        try {
          partial = JSON.parse(message.event.value);
        } catch {
          // Not JSON: forward the text as it is.
        }
        call.onPartial(partial);
      } else if (message.event.case === 'done') {
        output = message.event.value.output
          ? toJson(ValueSchema, message.event.value.output)
          : null;
      }
    }
    if (output === undefined)
      throw new AionError('service.unavailable', `module ${engine.module} ended without a result`);
    return {
      output,
      inputTokens: estimateTokens(call.params),
      outputTokens: estimateTokens(output),
      model: engine.module,
    };
  }
}
