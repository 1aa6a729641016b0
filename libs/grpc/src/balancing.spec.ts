import { AionTasks, TaskStatus } from '@aion/contracts';
import { InternalTokens } from '@aion/auth';
import { runWithTenant } from '@aion/tenancy';
import { createGrpcClient } from './client';
import { GrpcServer } from './server';

const tokens = new InternalTokens('k'.repeat(40), 'test');
const ctx = { tenantId: 'acme', subject: 'user-1', roles: ['developer'], requestId: 'req-1' };

/** A replica that answers every Submit with its own name as the task id. */
async function replica(name: string) {
  const server = new GrpcServer({ tokens });
  server.add(
    AionTasks,
    {
      submit: async () => ({ result: { taskId: name, intent: 'x', status: TaskStatus.QUEUED } }),
      // eslint-disable-next-line require-yield -- this test never streams
      stream: async function* () {
        return;
      },
      statusById: async () => ({}),
      cancel: async () => ({}),
      list: async () => ({ tasks: [] }),
      getReceipt: async () => ({}),
    },
    {
      submit: 'tasks:submit',
      stream: 'tasks:read',
      statusById: 'tasks:read',
      cancel: 'tasks:cancel',
      list: 'tasks:read',
      getReceipt: 'tasks:read',
    },
  );
  const port = await server.start('127.0.0.1', 0);
  server.setServing('SERVING');
  return { server, port };
}

describe('a client of several replicas', () => {
  it('spreads calls over every address of its target and keeps serving when one goes away', async () => {
    const a = await replica('a');
    const b = await replica('b');
    const client = createGrpcClient(AionTasks, `ipv4:127.0.0.1:${a.port},127.0.0.1:${b.port}`, {
      tokens,
    });
    const served = async (calls: number) => {
      const names: string[] = [];
      for (let i = 0; i < calls; i++)
        names.push(
          (await runWithTenant(ctx, () => client.submit({ task: { intent: 'x' } }))).result!.taskId,
        );
      return names;
    };
    try {
      const first = await served(20);
      expect(first.filter((n) => n === 'a').length).toBeGreaterThanOrEqual(5);
      expect(first.filter((n) => n === 'b').length).toBeGreaterThanOrEqual(5);

      await a.server.shutdown(1000);
      // The client learns of the closed connection from its GOAWAY; from then on every call
      // goes to the replica that is left, and none fails.
      const deadline = Date.now() + 5000;
      while ((await served(1).catch(() => [])).length === 0 && Date.now() < deadline);
      expect(new Set(await served(10))).toEqual(new Set(['b']));
    } finally {
      client.close();
      await a.server.shutdown(100).catch(() => undefined);
      await b.server.shutdown(1000);
    }
  });
});
