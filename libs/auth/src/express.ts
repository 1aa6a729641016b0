import type { NextFunction, Request, RequestHandler, Response } from 'express';
import passport from 'passport';
import { AionError } from '@aion/errors';
import { runWithTenant } from '@aion/tenancy';
import { createJwtStrategy } from './jwt-strategy';
import type { Principal } from './principal';
import { can, type Permission } from './rbac';

/** Anything that turns a presented API key into a principal (ApiKeyService, or one wrapping it). */
export interface ApiKeyVerifier {
  verify(presented: string): Promise<Principal>;
}

/** Anything that turns a bearer JWT into a principal (JwtVerifier, or several combined). */
export interface TokenVerifier {
  verify(token: string): Promise<Principal>;
}

export interface HttpAuthOptions {
  apiKeys?: ApiKeyVerifier;
  jwt?: TokenVerifier;
}

export function principalOf(res: Response): Principal | undefined {
  return res.locals['principal'] as Principal | undefined;
}

function credentialOf(req: Request): { kind: 'api_key' | 'bearer'; value: string } | undefined {
  const apiKey = req.header('x-api-key');
  if (apiKey) return { kind: 'api_key', value: apiKey.trim() };
  const authorization = req.header('authorization');
  const match = authorization ? /^Bearer\s+(\S+)$/i.exec(authorization) : null;
  if (!match) return undefined;
  // API keys may also come as a bearer token (what OpenAI SDKs send); a JWT has three parts.
  return { kind: match[1]!.split('.').length === 3 ? 'bearer' : 'api_key', value: match[1]! };
}

/**
 * Authenticates API keys (`X-API-Key` or `Authorization: Bearer aion_...`) and JWTs (passport-jwt
 * strategy), then runs the rest of the request in the principal's tenant context. Requests
 * without a credential continue as anonymous; `requirePermission` decides what that may do.
 */
export function authenticate(options: HttpAuthOptions): RequestHandler {
  const authenticator = new passport.Passport();
  if (options.jwt) authenticator.use('jwt', createJwtStrategy(options.jwt));
  const proceed = (req: Request, res: Response, next: NextFunction, principal: Principal) => {
    res.locals['principal'] = principal;
    const requestId =
      typeof res.locals['requestId'] === 'string' ? (res.locals['requestId'] as string) : '';
    runWithTenant(
      {
        tenantId: principal.tenantId,
        subject: principal.subject,
        owner: principal.owner,
        roles: principal.roles,
        requestId,
      },
      () => next(),
    );
  };
  return (req, res, next) => {
    const credential = credentialOf(req);
    if (!credential) return next();
    if (credential.kind === 'api_key') {
      if (!options.apiKeys)
        return next(new AionError('auth.invalid_credentials', 'API keys are not accepted here'));
      options.apiKeys
        .verify(credential.value)
        .then((principal) => proceed(req, res, next, principal), next);
      return;
    }
    if (!options.jwt)
      return next(new AionError('auth.invalid_credentials', 'bearer tokens are not accepted here'));
    authenticator.authenticate(
      'jwt',
      { session: false },
      (err: unknown, user: Principal | false, info: unknown) => {
        if (err) return next(err);
        if (!user)
          return next(
            info instanceof AionError
              ? info
              : new AionError('auth.invalid_credentials', 'invalid token'),
          );
        proceed(req, res, next, user);
      },
    )(req, res, next);
  };
}

/** 401 without a credential, 403 when the principal's roles lack the permission. */
export function requirePermission(permission: Permission): RequestHandler {
  return (_req, res, next) => {
    const principal = principalOf(res);
    if (!principal) return next(AionError.unauthenticated());
    if (!can(principal.roles, permission))
      return next(AionError.forbidden(`this requires the ${permission} permission`));
    next();
  };
}
