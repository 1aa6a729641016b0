import { Router } from 'express';
import * as z from 'zod/v4';
import { principalOf, requirePermission } from '@aion/auth';
import type { SessionService } from '../../core/sessions';
import type { AdminAudit } from './app';
import { parse } from './validate';

export const LoginRequest = z.strictObject({
  tenant_id: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/),
  username: z.string().min(1).max(200),
  password: z.string().min(1).max(1024),
});
export const RefreshRequest = z.strictObject({ refresh_token: z.string().min(1).max(512) });
export const CreateUserRequest = z.strictObject({
  username: z.string().regex(/^[A-Za-z0-9._@+-]{1,200}$/),
  password: z.string().min(12).max(1024),
  role: z.enum(['admin', 'operator', 'developer', 'observer']),
});

/** /api/v1/auth: password login, refresh-token rotation, user creation. */
export function authRoutes(sessions: SessionService, audit: AdminAudit): Router {
  const router = Router();
  router.post('/api/v1/auth/login', async (req, res) => {
    const body = parse(LoginRequest, req.body, 'login request');
    res.setHeader('Cache-Control', 'no-store');
    res.json(await sessions.login(body.tenant_id, body.username, body.password));
  });
  router.post('/api/v1/auth/refresh', async (req, res) => {
    const body = parse(RefreshRequest, req.body, 'refresh request');
    res.setHeader('Cache-Control', 'no-store');
    res.json(await sessions.refreshTokens(body.refresh_token));
  });
  router.post('/api/v1/auth/users', requirePermission('auth:manage'), async (req, res) => {
    const body = parse(CreateUserRequest, req.body, 'user');
    const user = await sessions.createUser(
      principalOf(res)!.tenantId,
      body.username,
      body.password,
      body.role,
    );
    await audit.record('user.created', user.id, { username: user.username, role: user.role });
    res
      .status(201)
      .json({ id: user.id, tenant_id: user.tenantId, username: user.username, role: user.role });
  });
  return router;
}
