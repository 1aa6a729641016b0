import { z } from 'zod';
import {
  ConfigError,
  field,
  loadConfig,
  positiveInt,
  redactConfig,
  SERVICE_PREFIXES,
  bool,
  csv,
  grpcTarget,
} from './config';
import { loadServiceConfig, serviceConfigSpec, sharedConfigSpec } from './shared';

describe('loadConfig', () => {
  const spec = {
    port: field('AION_GATEWAY_HTTP_PORT', positiveInt(8080), 'port'),
    apiKey: field('AION_GATEWAY_API_KEY', z.string().min(8), 'key', { sensitive: true }),
    debug: field('AION_GATEWAY_DEBUG', bool(false), 'debug'),
    origins: field('AION_GATEWAY_CORS_ORIGINS', csv(), 'origins'),
  };

  it('parses, coerces and applies defaults', () => {
    const config = loadConfig(spec, {
      AION_GATEWAY_API_KEY: 'abcdefgh',
      AION_GATEWAY_CORS_ORIGINS: 'https://a, https://b',
    });
    expect(config).toEqual({
      port: 8080,
      apiKey: 'abcdefgh',
      debug: false,
      origins: ['https://a', 'https://b'],
    });
  });

  it('reports every bad variable in one error and never echoes values', () => {
    let error: unknown;
    try {
      loadConfig(spec, {
        AION_GATEWAY_HTTP_PORT: '-1',
        AION_GATEWAY_API_KEY: 'short',
        AION_GATEWAY_DEBUG: 'maybe',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.map((p) => p.variable).sort();
    expect(problems).toEqual([
      'AION_GATEWAY_API_KEY',
      'AION_GATEWAY_DEBUG',
      'AION_GATEWAY_HTTP_PORT',
    ]);
    expect((error as Error).message).not.toContain('short');
  });

  it('reads a variable under its alias, and refuses both names set to different values without echoing a secret', () => {
    const aliased = {
      port: field('AION_X_HTTP_PORT', positiveInt(80), 'port', { alias: 'AION_X_PORT' }),
      key: field('AION_X_KEY', z.string().optional(), 'key', {
        sensitive: true,
        alias: 'AION_X_SECRET',
      }),
    };
    expect(loadConfig(aliased, { AION_X_PORT: '81' })).toEqual({ port: 81, key: undefined });
    expect(loadConfig(aliased, { AION_X_PORT: '82', AION_X_HTTP_PORT: '82' }).port).toBe(82);
    let error: unknown;
    try {
      loadConfig(aliased, { AION_X_SECRET: 'hunter2-a', AION_X_KEY: 'hunter2-b' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.variable)).toEqual(['AION_X_SECRET']);
    expect(String(error)).not.toContain('hunter2');
  });

  it('redacts secrets and URL passwords when printed', () => {
    const full = { ...spec, db: sharedConfigSpec.databaseUrl };
    const config = loadConfig(full, {
      AION_GATEWAY_API_KEY: 'supersecret',
      DATABASE_URL: 'postgres://aion:pw123@db:5432/aion',
    });
    const printed = JSON.stringify(redactConfig(full, config));
    expect(printed).not.toContain('supersecret');
    expect(printed).not.toContain('pw123');
    expect(printed).toContain('db:5432');
  });
});

describe('loadServiceConfig', () => {
  it('uses the service prefix', () => {
    expect(SERVICE_PREFIXES['module-host']).toBe('AION_MODULE_HOST_');
    const config = loadServiceConfig(
      serviceConfigSpec('orchestrator', { httpPort: 8081, grpcPort: 50051 }),
      {},
      {
        AION_MODE: 'embedded',
        AION_ORCHESTRATOR_GRPC_PORT: '6000',
      },
    );
    expect(config.grpcPort).toBe(6000);
    expect(config.httpPort).toBe(8081);
    expect(config.mode).toBe('embedded');
  });

  it('binds loopback in embedded mode and every address otherwise, unless told', () => {
    const spec = serviceConfigSpec('orchestrator', { httpPort: 8081, grpcPort: 50051 });
    expect(loadServiceConfig(spec, {}, { AION_MODE: 'embedded' }).host).toBe('127.0.0.1');
    expect(
      loadServiceConfig(spec, {}, { AION_MODE: 'embedded', AION_ORCHESTRATOR_HOST: '0.0.0.0' })
        .host,
    ).toBe('0.0.0.0');
    expect(
      loadServiceConfig(
        spec,
        {},
        { AION_MODE: 'distributed', AION_INTERNAL_TOKEN_SECRET: 'x'.repeat(32) },
      ).host,
    ).toBe('0.0.0.0');
  });

  it('gives a public service an ops port and leaves internal ones without', () => {
    const gateway = serviceConfigSpec('gateway', {
      httpPort: 8080,
      grpcPort: 50050,
      opsPort: 9080,
    });
    expect(loadServiceConfig(gateway, {}, { AION_MODE: 'embedded' }).opsPort).toBe(9080);
    const orchestrator = serviceConfigSpec('orchestrator', { httpPort: 8081, grpcPort: 50051 });
    expect(loadServiceConfig(orchestrator, {}, { AION_MODE: 'embedded' }).opsPort).toBeUndefined();
  });

  it('requires infrastructure in distributed mode, together with other problems', () => {
    expect(() =>
      loadServiceConfig(
        serviceConfigSpec('gateway', { httpPort: 8080, grpcPort: 0 }),
        { database: true, redis: true, kafka: true },
        {
          AION_GATEWAY_HTTP_PORT: 'abc',
        },
      ),
    ).toThrow(
      /AION_GATEWAY_HTTP_PORT[\s\S]*DATABASE_URL[\s\S]*REDIS_URL[\s\S]*KAFKA_BROKERS[\s\S]*AION_INTERNAL_TOKEN_SECRET/,
    );
  });

  it('rejects a database URL with the wrong scheme', () => {
    expect(() =>
      loadServiceConfig({}, {}, { AION_MODE: 'embedded', DATABASE_URL: 'mysql://x@y/z' }),
    ).toThrow(/DATABASE_URL/);
  });
});

describe('grpcTarget', () => {
  const target = grpcTarget('127.0.0.1:50051');

  it.each([
    'orchestrator:50051',
    '10.0.0.7:50051',
    '[::1]:50051',
    'dns:///orchestrator-headless.aion.svc.cluster.local:50051',
    'dns://10.96.0.10/orchestrator:50051',
    'dns:orchestrator:50051',
    'ipv4:10.0.0.7:50051,10.0.0.8:50051',
    'unix:/var/run/aion/orchestrator.sock',
  ])('accepts %s', (value) => {
    expect(target.parse(value)).toBe(value);
  });

  it.each(['orchestrator', 'http://orchestrator:50051', 'dns:orchestrator', 'ipv4:', ':50051'])(
    'refuses %s',
    (value) => {
      expect(target.safeParse(value).success).toBe(false);
    },
  );

  it('falls back to its default when unset', () => {
    expect(target.parse(undefined)).toBe('127.0.0.1:50051');
  });
});
