import * as z from 'zod/v4';
import { PAGE_TOKEN_PATTERN } from '@aion/grpc';
import type { JurisdictionRegistry } from '@aion/jurisdictions';

/**
 * Wire primitives shared by the route groups. Each one validates exactly what its OpenAPI
 * schema says, so that what the document allows the server accepts and nothing more.
 */

/** An integer in a query string: digits only (no '', '1e3' or ' 5'), documented as an integer. */
export const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d{1,16}$/, 'must be an integer')
    .transform(Number)
    .pipe(z.int().min(min).max(max))
    .meta({ openapi: { type: 'integer', minimum: min, maximum: max } });

/** A boolean in a query string. */
export const queryBool = () =>
  z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .meta({ openapi: { type: 'boolean' } });

export const Uuid = z.uuid();
export const Timestamp = z.iso.datetime({ offset: true });
export const Classification = z.enum(['pii', 'financial', 'health', 'biometric', 'none']);
export const Privacy = z.enum(['local-only', 'allow-api', 'hybrid']);
export const Role = z.enum(['admin', 'operator', 'developer', 'observer']);

export const PageToken = z
  .string()
  .regex(PAGE_TOKEN_PATTERN)
  .describe('next_page_token of the previous page');

export const PageQuery = z.strictObject({
  limit: queryInt(1, 200).default(50).describe('Page size'),
  page_token: PageToken.optional(),
});
export const PageInfo = {
  next_page_token: z.string().nullable(),
  total: z.int().min(0),
};

/**
 * A jurisdiction as the registry knows it: an ISO 3166-1 alpha-2 code or a region code
 * (built-in or from AION_REGIONS_FILE), any case, answered upper-case.
 */
export function jurisdictionSchema(registry: JurisdictionRegistry) {
  const codes = registry.knownCodes();
  return z
    .string()
    .refine((code) => registry.isKnown(code), {
      error: (issue) =>
        `${JSON.stringify(issue.input)} is not an ISO 3166-1 alpha-2 code or a region code`,
    })
    .transform((code) => code.toUpperCase())
    .meta({
      openapi: {
        type: 'string',
        enum: codes,
        description: 'ISO 3166-1 alpha-2 code (DE) or a region code (EU)',
      },
    });
}
export type JurisdictionSchema = ReturnType<typeof jurisdictionSchema>;

/** The error envelope, where a schema must name it (inside event streams). */
export const ErrorEnvelopeJson = z.object({
  error_code: z.string(),
  message: z.string(),
  details: z
    .array(z.object({ field: z.string(), reason: z.string().optional(), message: z.string() }))
    .optional(),
  request_id: z.string(),
});

/** An empty JSON body, or none at all. */
export const NoteBody = (what: string) =>
  z.strictObject({ note: z.string().max(1000).default('').describe(what) });
