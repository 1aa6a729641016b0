/**
 * Persistent local infrastructure for development: `npm run infra:up` starts PostgreSQL, Redis
 * and Kafka under .infra/ and writes .infra/env (source it, or let the test setup read it);
 * `npm run infra:down` stops them.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot, startInfra, stopInfra, type InfraState } from './stack';

const infraDir = path.join(repoRoot, '.infra');
const stateFile = path.join(infraDir, 'state.json');

const alive = (pid: number | undefined) => {
  if (!pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Whether every server a state file records still runs (a restarted machine leaves none). */
function stillRunning(state: InfraState): boolean {
  const pidFile = state.postgres && path.join(state.postgres.dataDir, 'postmaster.pid');
  const postgresPid =
    pidFile && existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : 0;
  return (
    (!state.postgres || (postgresPid > 0 && alive(postgresPid))) &&
    alive(state.redisPid) &&
    alive(state.kafkaPid)
  );
}

async function up(): Promise<void> {
  if (existsSync(stateFile)) {
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as InfraState;
    if (stillRunning(state)) {
      console.log(
        `already running (see ${path.relative(repoRoot, stateFile)}); run npm run infra:down first`,
      );
      return;
    }
    console.log('the recorded stack is gone (was the machine restarted?); starting a new one');
    await stopInfra({ ...state, stackDir: undefined }).catch(() => undefined);
    rmSync(stateFile, { force: true });
  }
  mkdirSync(infraDir, { recursive: true });
  const stackDir = path.join(infraDir, 'stack');
  // Servers from an earlier, crashed stack would clash with fresh data directories.
  rmSync(stackDir, { recursive: true, force: true });
  mkdirSync(stackDir, { recursive: true });
  for (const variable of [
    'DATABASE_URL',
    'REDIS_URL',
    'KAFKA_BROKERS',
    'KAFKA_REPLICATION_FACTOR',
    'KAFKA_MIN_INSYNC_REPLICAS',
  ])
    delete process.env[variable];
  const handle = await startInfra({ stackDir, log: console.log });
  writeFileSync(stateFile, JSON.stringify(handle.state, null, 2));
  const env = Object.entries(handle.state.env).map(([k, v]) => `export ${k}='${v}'`);
  env.push(`export DATABASE_URL='${handle.state.env.AION_TEST_PG_ADMIN_URL}'`);
  writeFileSync(path.join(infraDir, 'env'), `${env.join('\n')}\n`);
  console.log(`infrastructure is up; run: source .infra/env`);
  for (const line of env) console.log(line);
}

async function down(): Promise<void> {
  if (!existsSync(stateFile)) {
    console.log('nothing is running');
    return;
  }
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as InfraState;
  await stopInfra({ ...state, stackDir: undefined });
  rmSync(infraDir, { recursive: true, force: true });
  console.log('infrastructure stopped');
}

const command = process.argv[2];
(command === 'up'
  ? up()
  : command === 'down'
    ? down()
    : Promise.reject(new Error('usage: cli.ts up|down'))
).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
