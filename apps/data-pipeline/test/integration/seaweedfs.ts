import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';

const root = path.resolve(__dirname, '..', '..', '..', '..');

/** Free loopback ports, all held until every one is taken (one closed at once may come back). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((ok) => {
          const s = net.createServer().listen(0, '127.0.0.1', () => ok(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}

export interface SeaweedFs {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  stop(): Promise<void>;
}

/**
 * A real SeaweedFS (`weed server -s3`: master, volume, filer and S3 gateway in one process) on
 * loopback ports, with one identity and one bucket. The binary is AION_TEST_WEED, or built (and
 * cached) by tools/infra/seaweedfs.sh.
 */
export async function startSeaweedFs(): Promise<SeaweedFs> {
  const weed =
    process.env['AION_TEST_WEED'] ||
    execFileSync('bash', [path.join(root, 'tools/infra/seaweedfs.sh')], {
      encoding: 'utf8',
      timeout: 1_800_000,
      stdio: ['ignore', 'pipe', 'inherit'],
    })
      .trim()
      .split('\n')
      .pop()!;
  const dir = await mkdtemp(path.join(tmpdir(), 'weed-'));
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc] = await freePorts(8);
  const accessKeyId = 'aion-test-access';
  const secretAccessKey = 'aion-test-secret-0123456789';
  const config = path.join(dir, 's3.json');
  await writeFile(
    config,
    JSON.stringify({
      identities: [
        {
          name: 'aion',
          credentials: [{ accessKey: accessKeyId, secretKey: secretAccessKey }],
          actions: ['Admin', 'Read', 'List', 'Tagging', 'Write'],
        },
      ],
    }),
  );
  const child: ChildProcess = spawn(
    weed,
    [
      'server',
      '-ip=127.0.0.1',
      '-ip.bind=127.0.0.1',
      `-dir=${dir}`,
      '-volume.max=4',
      '-master.volumeSizeLimitMB=64',
      `-master.port=${master}`,
      `-master.port.grpc=${masterGrpc}`,
      `-volume.port=${volume}`,
      `-volume.port.grpc=${volumeGrpc}`,
      '-filer',
      `-filer.port=${filer}`,
      `-filer.port.grpc=${filerGrpc}`,
      '-s3',
      `-s3.port=${s3}`,
      `-s3.port.grpc=${s3Grpc}`,
      `-s3.config=${config}`,
      '-volume.preStopSeconds=0',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const endpoint = `http://127.0.0.1:${s3}`;
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId, secretAccessKey },
  });
  const stop = async () => {
    client.destroy();
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((ok) => setTimeout(ok, 10_000))]);
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  };
  // Ready when the S3 gateway answers and a bucket can be made (the filer and a volume are up).
  const bucket = 'aion-datasets';
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await client.send(new ListBucketsCommand({}));
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      break;
    } catch (err) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`SeaweedFS did not start: ${(err as Error).message}\n${log}`);
      }
      await new Promise((ok) => setTimeout(ok, 250));
    }
  }
  return { endpoint, accessKeyId, secretAccessKey, bucket, stop };
}
