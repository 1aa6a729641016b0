import { ConfigError } from '@aion/config';
import { loadOrchestratorConfig, modulePoolsOf } from './config';

// Embedded mode: no infrastructure URL is required, so only the variables under test matter.
const load = (env: NodeJS.ProcessEnv) => loadOrchestratorConfig({ AION_MODE: 'embedded', ...env });
const POOLS = 'AION_ORCHESTRATOR_MODULE_HOST_POOLS';

function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    load(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.variable}: ${p.problem}`);
    throw err;
  }
  throw new Error('expected the configuration to be refused');
}

describe('module-host pools in the orchestrator config', () => {
  it('keeps the single address working as one cpu pool', () => {
    expect(modulePoolsOf(load({}))).toEqual([
      { name: 'default', accelerator: 'cpu', address: '127.0.0.1:50055' },
    ]);
    expect(
      modulePoolsOf(load({ AION_ORCHESTRATOR_MODULE_HOST_ADDRESS: 'dns:///mh:50055' })),
    ).toEqual([{ name: 'default', accelerator: 'cpu', address: 'dns:///mh:50055' }]);
  });

  it('reads the compact form and the JSON form alike', () => {
    const expected = [
      { name: 'cpu', accelerator: 'cpu', address: 'dns:///aion-module-host-cpu:50055' },
      { name: 'gpu', accelerator: 'cuda', address: '10.0.0.7:50055' },
    ];
    expect(
      modulePoolsOf(
        load({ [POOLS]: 'cpu=cpu@dns:///aion-module-host-cpu:50055, gpu=cuda@10.0.0.7:50055' }),
      ),
    ).toEqual(expected);
    expect(modulePoolsOf(load({ [POOLS]: JSON.stringify(expected) }))).toEqual(expected);
  });

  it('refuses bad pools with a line that says which and why', () => {
    expect(problems({ [POOLS]: 'gpu=metal@h:1' })).toEqual([
      `${POOLS}: pool 1 accelerator must be one of cpu, cuda, rocm, oneapi`,
    ]);
    expect(problems({ [POOLS]: 'a=cpu@h:1,a=cuda@h:2' })).toEqual([
      `${POOLS}: pool a is named twice`,
    ]);
    expect(problems({ [POOLS]: 'a=cpu@nowhere' })[0]).toMatch(/pool 1 address must be host:port/);
    expect(problems({ [POOLS]: 'just-a-host:1' })[0]).toMatch(/name=accelerator@host:port/);
    expect(problems({ [POOLS]: 'Big=cpu@h:1' })[0]).toMatch(/pool 1 name must be a DNS label/);
    expect(problems({ [POOLS]: '[{"name":"a"' })).toEqual([`${POOLS}: is not valid JSON`]);
    expect(problems({ [POOLS]: '[]' })).toEqual([`${POOLS}: must name at least one pool`]);
    expect(
      problems({ [POOLS]: '[{"name":"a","accelerator":"cpu","address":"h:1","x":1}]' })[0],
    ).toMatch(/pool 1/);
  });

  it('refuses the single address and the pools set together', () => {
    expect(
      problems({ [POOLS]: 'a=cpu@h:1', AION_ORCHESTRATOR_MODULE_HOST_ADDRESS: 'h:2' }),
    ).toEqual([
      'AION_ORCHESTRATOR_MODULE_HOST_ADDRESS: is set as well as AION_ORCHESTRATOR_MODULE_HOST_POOLS; set one of them (a single address is one cpu pool)',
    ]);
  });
});

describe('LLM tracing in the orchestrator config', () => {
  it('is off by default, and a Langfuse URL needs its keys and jurisdiction', () => {
    expect(load({}).langfuseUrl).toBeUndefined();
    expect(problems({ AION_ORCHESTRATOR_LANGFUSE_URL: 'http://langfuse.example' })).toEqual([
      'AION_ORCHESTRATOR_LANGFUSE_URL: needs AION_ORCHESTRATOR_LANGFUSE_PUBLIC_KEY, AION_ORCHESTRATOR_LANGFUSE_SECRET_KEY and AION_ORCHESTRATOR_LANGFUSE_JURISDICTION',
    ]);
    const on = load({
      AION_ORCHESTRATOR_LANGFUSE_URL: 'http://langfuse.example',
      AION_ORCHESTRATOR_LANGFUSE_PUBLIC_KEY: 'pk-lf',
      AION_ORCHESTRATOR_LANGFUSE_SECRET_KEY: 'sk-lf',
      AION_ORCHESTRATOR_LANGFUSE_JURISDICTION: 'DE',
      AION_ORCHESTRATOR_LANGFUSE_TENANTS: 'acme, globex',
    });
    expect(on.langfuseTenants).toEqual(['acme', 'globex']);
  });
});
