import type { Engine } from '../../core/engines';
import type { EngineCall, EngineExecutor, EngineOutput } from '../../core/ports';
import type { ModuleEngineExecutor } from './module-engine';
import type { OpenAiCompatibleExecutor } from './openai-compatible';

/** One executor per engine kind; adding a provider kind is adding an adapter here. */
export class EngineDispatcher implements EngineExecutor {
  constructor(
    private readonly modules: ModuleEngineExecutor,
    private readonly openai: OpenAiCompatibleExecutor,
  ) {}

  execute(engine: Engine, call: EngineCall): Promise<EngineOutput> {
    return engine.kind === 'module'
      ? this.modules.execute(engine, call)
      : this.openai.execute(engine, call);
  }
}
