import { createHash } from 'node:crypto';
import {
  CompactSign,
  compactVerify,
  createLocalJWKSet,
  decodeProtectedHeader,
  type JSONWebKeySet,
  type KeyLike,
} from 'jose';

/**
 * A sovereignty receipt: where one task's data was processed, under which rule and model
 * approval, and digests of what went in and came out. The JWS payload is exactly this JSON.
 */
export interface SovereigntyReceipt {
  receipt_version: 1;
  task_id: string;
  tenant_id: string;
  intent: string;
  status: string;
  data: { jurisdiction: string; classification: string };
  processed_in: {
    jurisdiction: string;
    region: string;
    /** Regional deployment id when the engine runs on one; otherwise the engine's name. */
    deployment: string;
    engine: string;
  };
  model: {
    id: string;
    version: string;
    /** The registry entry that approved it and its status then, or "unregistered". */
    approval: { registry_id: string; status: string; jurisdiction: string } | 'unregistered';
  };
  /** The residency rule that allowed the processing (`default:<code>` for the fallback). */
  allowed_by_rule: string;
  timestamps: { submitted_at: string; started_at: string; finished_at: string; issued_at: string };
  /** sha256 (hex) of the canonical JSON of the input params and of the result. */
  input_sha256: string;
  output_sha256: string;
}

export const RECEIPT_ALG = 'EdDSA';
export const RECEIPT_TYP = 'aion-receipt+jws';

/** JSON with object keys sorted at every level, so equal values hash equally everywhere. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export const sha256Hex = (value: unknown): string =>
  createHash('sha256').update(canonicalJson(value)).digest('hex');

/** Signs the receipt JSON as a compact JWS (EdDSA over Ed25519, kid in the protected header). */
export async function signReceipt(
  receiptJson: string,
  key: { kid: string; privateKey: KeyLike },
): Promise<string> {
  return new CompactSign(new TextEncoder().encode(receiptJson))
    .setProtectedHeader({ alg: RECEIPT_ALG, kid: key.kid, typ: RECEIPT_TYP })
    .sign(key.privateKey);
}

export class ReceiptVerificationError extends Error {}

/**
 * Verifies a receipt offline against a JWKS: the signature, the algorithm (only EdDSA), and —
 * when the receipt JSON is given as well — that it is byte for byte the signed payload. Any
 * altered field fails. Returns the verified receipt.
 */
export async function verifyReceipt(
  jws: string,
  jwks: JSONWebKeySet,
  receiptJson?: string,
): Promise<SovereigntyReceipt> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw new ReceiptVerificationError('not a compact JWS');
  }
  if (header.alg !== RECEIPT_ALG)
    throw new ReceiptVerificationError(
      `algorithm ${String(header.alg)} is not accepted (EdDSA only)`,
    );
  if (!header.kid) throw new ReceiptVerificationError('the JWS names no kid');
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jws, createLocalJWKSet(jwks), {
      algorithms: [RECEIPT_ALG],
    }));
  } catch (err) {
    throw new ReceiptVerificationError(`signature does not verify: ${(err as Error).message}`);
  }
  const signed = new TextDecoder().decode(payload);
  if (receiptJson !== undefined && receiptJson !== signed) {
    // Equal JSON with different spacing is still the same receipt; different content is not.
    let same = false;
    try {
      same = canonicalJson(JSON.parse(receiptJson)) === canonicalJson(JSON.parse(signed));
    } catch {
      same = false;
    }
    if (!same) throw new ReceiptVerificationError('the receipt differs from what was signed');
  }
  return JSON.parse(signed) as SovereigntyReceipt;
}
