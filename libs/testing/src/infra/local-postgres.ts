import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { freePort, run, waitForPort } from './processes';

export interface LocalPostgres {
  port: number;
  dataDir: string;
  binDir: string;
  /** Superuser URL: creates roles and test databases. */
  adminUrl: string;
}

/** Debian installs server binaries under /usr/lib/postgresql/<major>/bin, not on PATH. */
export function findPostgresBinDir(): string {
  const fromEnv = process.env['AION_PG_BIN_DIR'];
  if (fromEnv && existsSync(path.join(fromEnv, 'initdb'))) return fromEnv;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const majors = readdirSync(root)
      .filter((d) => existsSync(path.join(root, d, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (majors[0]) return path.join(root, majors[0], 'bin');
  }
  try {
    return run('pg_config', ['--bindir']).trim();
  } catch {
    throw new Error(
      'PostgreSQL server binaries not found: run `npm run infra:install` (apt postgresql) or set DATABASE_URL',
    );
  }
}

/** PostgreSQL refuses to run as root; when we are root, run its tools as the `postgres` user. */
function asPgUser(binary: string, args: string[]): [string, string[]] {
  if (process.getuid?.() === 0) return ['runuser', ['-u', 'postgres', '--', binary, ...args]];
  return [binary, args];
}

function pgUserIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  return {
    uid: Number(run('id', ['-u', 'postgres']).trim()),
    gid: Number(run('id', ['-g', 'postgres']).trim()),
  };
}

/**
 * Starts (or, on the same stackDir and port, restarts) a private PostgreSQL server.
 * `durableCommits`: a commit is in the WAL before it returns (synchronous_commit on), so an
 * immediate stop (a crash) keeps every committed row; the default trades that for speed.
 */
export async function startLocalPostgres(
  stackDir: string,
  wanted: { port?: number; durableCommits?: boolean } = {},
): Promise<LocalPostgres> {
  const binDir = findPostgresBinDir();
  const baseDir = path.join(stackDir, 'postgres');
  const dataDir = path.join(baseDir, 'data');
  const socketDir = path.join(baseDir, 'sock');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(socketDir, { recursive: true });
  const ids = pgUserIds();
  if (ids) {
    // The stack directory may be a 0700 mkdtemp owned by root: let the postgres user traverse it.
    chmodSync(stackDir, 0o755);
    for (const dir of [baseDir, dataDir, socketDir]) chownSync(dir, ids.uid, ids.gid);
  }
  const port = wanted.port ?? (await freePort());
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    run(
      ...asPgUser(path.join(binDir, 'initdb'), [
        '-D',
        dataDir,
        '-U',
        'postgres',
        '--auth=trust',
        '-E',
        'UTF8',
        '--no-sync',
      ]),
    );
  }
  const options = [
    `-p ${port}`,
    `-k ${socketDir}`,
    '-c listen_addresses=127.0.0.1',
    // Test data is disposable: trade durability for speed (fsync only matters when the machine
    // crashes; asynchronous commits are lost when the server does).
    '-c fsync=off',
    `-c synchronous_commit=${wanted.durableCommits ? 'on' : 'off'}`,
    '-c full_page_writes=off',
    '-c max_connections=300',
  ].join(' ');
  run(
    ...asPgUser(path.join(binDir, 'pg_ctl'), [
      '-D',
      dataDir,
      '-o',
      options,
      '-l',
      path.join(baseDir, 'postgres.log'),
      '-w',
      '-t',
      '60',
      'start',
    ]),
  );
  await waitForPort(port, 30_000, 'postgres');
  return { port, dataDir, binDir, adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres` };
}

export function stopLocalPostgres(pg: Pick<LocalPostgres, 'binDir' | 'dataDir'>): void {
  try {
    run(
      ...asPgUser(path.join(pg.binDir, 'pg_ctl'), [
        '-D',
        pg.dataDir,
        '-m',
        'immediate',
        '-w',
        'stop',
      ]),
    );
  } catch {
    // Already stopped.
  }
}
