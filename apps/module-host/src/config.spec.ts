import { ConfigError } from '@aion/config';
import { loadModuleHostConfig } from './config';

const load = (env: NodeJS.ProcessEnv) => loadModuleHostConfig({ AION_MODE: 'embedded', ...env });

describe('module-host pool and accelerator', () => {
  it('is the default cpu pool unless told otherwise', () => {
    expect(load({})).toMatchObject({ pool: 'default', accelerator: 'cpu' });
    expect(
      load({ AION_MODULE_HOST_POOL: 'gpu-a100', AION_MODULE_HOST_ACCELERATOR: 'cuda' }),
    ).toMatchObject({ pool: 'gpu-a100', accelerator: 'cuda' });
  });

  it('refuses an unknown accelerator and a pool name that is no DNS label, both at once', () => {
    let error: unknown;
    try {
      load({ AION_MODULE_HOST_POOL: 'GPU pool', AION_MODULE_HOST_ACCELERATOR: 'metal' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      { variable: 'AION_MODULE_HOST_POOL', problem: expect.stringMatching(/DNS label/) },
      {
        variable: 'AION_MODULE_HOST_ACCELERATOR',
        problem: 'must be one of cpu, cuda, rocm, oneapi',
      },
    ]);
  });
});
