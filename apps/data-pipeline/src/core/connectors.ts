import { AionError } from '@aion/errors';
import type { Connector, SourceData } from './ports';

/** Every source goes through here: routes and stages never call a connector directly. */
export class ConnectorRegistry {
  private readonly byType: Map<string, Connector>;

  constructor(connectors: Connector[]) {
    this.byType = new Map(connectors.map((c) => [c.type, c]));
  }

  private connectorFor(source: Record<string, unknown>): Connector {
    const type = source['type'];
    const connector = typeof type === 'string' ? this.byType.get(type) : undefined;
    if (!connector)
      throw AionError.validation(
        `source.type must be one of ${[...this.byType.keys()].join(', ')}`,
        [
          {
            field: 'source.type',
            reason: 'unsupported',
            message: `got ${JSON.stringify(type ?? null)}`,
          },
        ],
      );
    return connector;
  }

  check(source: Record<string, unknown>): void | Promise<void> {
    return this.connectorFor(source).check(source);
  }

  open(source: Record<string, unknown>, signal: AbortSignal): Promise<SourceData> {
    return this.connectorFor(source).open(source, signal);
  }
}
