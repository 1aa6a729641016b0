import * as z from 'zod/v4';
import type { ApiKeyRecord, ApiKeyService } from '@aion/auth';
import type { AuditRecorder } from '@aion/events';
import type { SessionService } from '../../../core/sessions';
import { route, type Route } from '../routing/route';
import { Role, Timestamp, Uuid } from '../../wire-schemas';

export const LoginRequest = z.strictObject({
  tenant_id: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/),
  username: z.string().min(1).max(200),
  password: z.string().min(1).max(1024),
});
export const RefreshRequest = z.strictObject({ refresh_token: z.string().min(1).max(512) });
export const CreateUserRequest = z.strictObject({
  username: z.string().regex(/^[A-Za-z0-9._@+-]{1,200}$/),
  password: z.string().min(12).max(1024),
  role: Role,
});
export const CreateApiKeyRequest = z.strictObject({
  name: z.string().min(1).max(200),
  role: Role,
  expires_in_seconds: z
    .int()
    .min(60)
    .max(315_360_000)
    .optional()
    .describe('Seconds until the key stops working (default: never)'),
});
const KeyIdPath = z.strictObject({ id: Uuid });

const TokenPair = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.int().min(0),
  refresh_token: z.string(),
  refresh_expires_in: z.int().min(0),
});
const User = z.object({ id: z.string(), tenant_id: z.string(), username: z.string(), role: Role });
const ApiKey = z.object({
  id: Uuid,
  prefix: z.string(),
  name: z.string(),
  role: Role,
  owner: z
    .string()
    .describe(
      'The person behind the key, who created it: user:<id>, bootstrap, idp:<issuer>:<sub>, or key:<id> for keys older than owners',
    ),
  created_at: Timestamp,
  expires_at: Timestamp.nullable(),
  revoked_at: Timestamp.nullable(),
  last_used_at: Timestamp.nullable(),
});
const CreatedApiKey = ApiKey.extend({
  key: z.string().describe('The secret; shown only in this answer'),
  note: z.string(),
});

const keyJson = (r: ApiKeyRecord) => ({
  id: r.id,
  prefix: r.prefix,
  name: r.name,
  role: r.role as z.infer<typeof Role>,
  owner: r.owner,
  created_at: r.createdAt.toISOString(),
  expires_at: r.expiresAt?.toISOString() ?? null,
  revoked_at: r.revokedAt?.toISOString() ?? null,
  last_used_at: r.lastUsedAt?.toISOString() ?? null,
});
const NO_STORE = { 'Cache-Control': 'no-store' };

/** /api/v1/auth: password login, refresh-token rotation, users and API keys. */
export function authRoutes(deps: {
  sessions: SessionService;
  keys: ApiKeyService;
  audit: AuditRecorder;
}): Route[] {
  const { sessions, keys, audit } = deps;
  return [
    route({
      method: 'post',
      path: '/api/v1/auth/login',
      operationId: 'login',
      summary: 'Password login: a short-lived access token and a rotating refresh token',
      tag: 'auth',
      access: 'public',
      request: { body: LoginRequest },
      responses: { 200: { description: 'Tokens', schema: TokenPair } },
      errors: [401, 403],
      async handle({ body }) {
        const tokens = await sessions.login(body.tenant_id, body.username, body.password);
        return { status: 200, headers: NO_STORE, body: tokens };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/auth/refresh',
      operationId: 'refreshTokens',
      summary: 'Trade a refresh token for new tokens (reuse revokes the whole session)',
      tag: 'auth',
      access: 'public',
      request: { body: RefreshRequest },
      responses: { 200: { description: 'New tokens', schema: TokenPair } },
      errors: [401],
      async handle({ body }) {
        return {
          status: 200,
          headers: NO_STORE,
          body: await sessions.refreshTokens(body.refresh_token),
        };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/auth/users',
      operationId: 'createUser',
      summary: 'Create a user of your tenant',
      tag: 'auth',
      access: 'auth:manage',
      request: { body: CreateUserRequest },
      responses: { 201: { description: 'The user', schema: User } },
      errors: [409],
      async handle({ body, principal }) {
        const user = await audit.recordChange(
          () => sessions.createUser(principal.tenantId, body.username, body.password, body.role),
          (created) => ({
            action: 'user.created',
            resourceId: created.id,
            details: { username: created.username, role: created.role },
          }),
        );
        return {
          status: 201,
          body: {
            id: user.id,
            tenant_id: user.tenantId,
            username: user.username,
            role: user.role as z.infer<typeof Role>,
          },
        };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/auth/keys',
      operationId: 'createApiKey',
      summary: 'Create an API key (the key is shown once)',
      tag: 'auth',
      access: 'auth:manage',
      request: { body: CreateApiKeyRequest },
      responses: { 201: { description: 'The key, with its secret', schema: CreatedApiKey } },
      links: {
        RevokeKey: { operationId: 'revokeApiKey', parameters: { id: '$response.body#/id' } },
      },
      async handle({ body, principal }) {
        const { key, record } = await audit.recordChange(
          () =>
            keys.create({
              tenantId: principal.tenantId,
              role: body.role,
              name: body.name,
              owner: principal.owner,
              expiresAt:
                body.expires_in_seconds === undefined
                  ? null
                  : new Date(Date.now() + body.expires_in_seconds * 1000),
            }),
          (created) => ({
            action: 'api_key.created',
            resourceId: created.record.id,
            details: {
              name: created.record.name,
              role: created.record.role,
              expires_at: created.record.expiresAt?.toISOString() ?? null,
            },
          }),
        );
        return {
          status: 201,
          headers: NO_STORE,
          body: { ...keyJson(record), key, note: 'store this key now: it is never shown again' },
        };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/auth/keys',
      operationId: 'listApiKeys',
      summary: "Your tenant's API keys (never their secrets)",
      tag: 'auth',
      access: 'auth:manage',
      request: {},
      responses: { 200: { description: 'Keys', schema: z.object({ data: z.array(ApiKey) }) } },
      async handle({ principal }) {
        return { status: 200, body: { data: (await keys.list(principal.tenantId)).map(keyJson) } };
      },
    }),
    route({
      method: 'post',
      path: '/api/v1/auth/keys/{id}/revoke',
      operationId: 'revokeApiKey',
      summary: 'Revoke an API key',
      tag: 'auth',
      access: 'auth:manage',
      request: { path: KeyIdPath },
      responses: { 204: { description: 'Revoked' } },
      errors: [404],
      async handle({ path, principal }) {
        await audit.recordChange(
          () => keys.revoke(principal.tenantId, path.id),
          () => ({ action: 'api_key.revoked', resourceId: path.id }),
        );
        return { status: 204 };
      },
    }),
  ];
}
