/**
 * Verifies a sovereignty receipt offline.
 *   npx tsx tools/aionctl/verify-receipt.ts <receipt.json> --jwks <file or URL>
 * <receipt.json> is what GET /v1/tasks/{id}/receipt returned ({receipt, jws}); the JWKS is
 * GET /.well-known/aion-receipt-keys, saved or fetched. Exit code 0: the signature verifies and
 * the receipt is exactly what was signed; 1: it does not (the reason is printed); 2: bad usage.
 */
import { readFileSync } from 'node:fs';
import type { JSONWebKeySet } from 'jose';
import { ReceiptVerificationError, verifyReceipt } from '@aion/receipts';

const USAGE =
  'usage: verify-receipt <receipt.json> --jwks <jwks.json | https://.../.well-known/aion-receipt-keys>';

async function loadJwks(source: string): Promise<JSONWebKeySet> {
  if (/^https?:\/\//.test(source)) {
    const res = await fetch(source);
    if (!res.ok) throw new Error(`cannot fetch ${source}: HTTP ${res.status}`);
    return (await res.json()) as JSONWebKeySet;
  }
  return JSON.parse(readFileSync(source, 'utf8')) as JSONWebKeySet;
}

/** The verifier as a command: its exit code (`aionctl receipt verify` calls it too). */
export async function verifyReceiptCommand(argv: string[]): Promise<number> {
  const at = argv.indexOf('--jwks');
  const jwksSource = at >= 0 ? argv[at + 1] : undefined;
  const file = argv.find((a, i) => !a.startsWith('--') && i !== at + 1);
  if (!file || !jwksSource) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  let document: { receipt?: unknown; jws?: unknown };
  try {
    document = JSON.parse(readFileSync(file, 'utf8')) as typeof document;
  } catch (err) {
    process.stderr.write(`cannot read ${file}: ${(err as Error).message}\n`);
    return 2;
  }
  if (typeof document.jws !== 'string') {
    process.stderr.write(`${file} has no "jws" string: save the whole receipt response\n`);
    return 2;
  }
  try {
    const receipt = await verifyReceipt(
      document.jws,
      await loadJwks(jwksSource),
      document.receipt === undefined ? undefined : JSON.stringify(document.receipt),
    );
    process.stdout.write(
      `VALID: task ${receipt.task_id} of tenant ${receipt.tenant_id}, ${receipt.data.classification} data from ${receipt.data.jurisdiction}, processed in ${receipt.processed_in.jurisdiction || 'nowhere'} by ${receipt.processed_in.engine || 'no engine'} under rule ${receipt.allowed_by_rule}\n`,
    );
    return 0;
  } catch (err) {
    if (err instanceof ReceiptVerificationError) {
      process.stdout.write(`INVALID: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
}

if (require.main === module)
  void verifyReceiptCommand(process.argv.slice(2)).then((code) => process.exit(code));
