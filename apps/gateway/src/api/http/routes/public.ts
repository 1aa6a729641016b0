import * as z from 'zod/v4';
import { route, type Route } from '../routing/route';
import type { SovereignClient } from './sovereign-json';

const Jwks = z.object({
  keys: z.array(
    z.looseObject({
      kty: z.string(),
      kid: z.string(),
      alg: z.string().optional(),
      use: z.string().optional(),
      crv: z.string().optional(),
      x: z.string().optional(),
    }),
  ),
});

/** Routes anyone may call: the receipt keys and the API description itself. */
export function publicRoutes(deps: {
  sovereign: SovereignClient;
  requestTimeoutMs: number;
  document: () => unknown;
}): Route[] {
  return [
    route({
      method: 'get',
      path: '/.well-known/aion-receipt-keys',
      operationId: 'getReceiptKeys',
      summary: 'Public keys (JWKS) that verify sovereignty receipts',
      tag: 'receipts',
      access: 'public',
      request: {},
      responses: {
        200: { description: 'The JWKS', schema: Jwks, contentType: 'application/jwk-set+json' },
      },
      async handle({ res }) {
        const { jwksJson } = await deps.sovereign.getReceiptKeys(
          {},
          { deadlineMs: deps.requestTimeoutMs },
        );
        res
          .set('Cache-Control', 'public, max-age=300')
          .type('application/jwk-set+json')
          .send(jwksJson);
        return 'sent';
      },
    }),
    route({
      method: 'get',
      path: '/openapi.json',
      operationId: 'getOpenApiDocument',
      summary: 'This document (OpenAPI 3.1)',
      tag: 'meta',
      access: 'public',
      request: {},
      responses: { 200: { description: 'OpenAPI 3.1', schema: z.record(z.string(), z.unknown()) } },
      async handle() {
        return { status: 200, body: deps.document() as Record<string, unknown> };
      },
    }),
  ];
}
