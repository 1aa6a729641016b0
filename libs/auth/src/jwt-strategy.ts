import {
  ExtractJwt,
  Strategy as JwtStrategy,
  type SecretOrKeyProvider,
  type VerifyCallback,
} from 'passport-jwt';
import type { Principal as VerifiedPrincipal } from './principal';

/** What the strategy verifies with: JwtVerifier, or any verifier of the same shape. */
interface BearerVerifier {
  verify(token: string): Promise<VerifiedPrincipal>;
}
import type { Principal } from './principal';

/**
 * passport-jwt verifies with jsonwebtoken, which lacks EdDSA and key-set selection by `kid`.
 * Verification therefore happens in jose (JwtVerifier) inside the documented
 * `secretOrKeyProvider` hook, which hands over an already-verified principal; the strategy's
 * verifier step passes such a principal through and keeps passport-jwt's default for anything else.
 */
class VerifiedToken {
  constructor(readonly principal: Principal) {}
}

type JwtVerifierFn = (
  token: string,
  secretOrKey: unknown,
  options: unknown,
  callback: (err: Error | null, payload?: unknown) => void,
) => void;
const strategyClass = JwtStrategy as unknown as {
  JwtVerifier: JwtVerifierFn & { aionInstalled?: boolean };
};
if (!strategyClass.JwtVerifier.aionInstalled) {
  const original = strategyClass.JwtVerifier;
  const passThrough: JwtVerifierFn & { aionInstalled?: boolean } = (
    token,
    secretOrKey,
    options,
    callback,
  ) =>
    secretOrKey instanceof VerifiedToken
      ? callback(null, secretOrKey.principal)
      : original(token, secretOrKey, options, callback);
  passThrough.aionInstalled = true;
  strategyClass.JwtVerifier = passThrough;
}

/** The passport strategy ("jwt") for bearer JWTs; failures carry the AionError as `info`. */
export function createJwtStrategy(verifier: BearerVerifier): JwtStrategy {
  return new JwtStrategy(
    {
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      secretOrKeyProvider: ((
        _req: unknown,
        rawToken: string,
        done: (err: unknown, key?: unknown) => void,
      ) => {
        verifier.verify(rawToken).then(
          (principal) => done(null, new VerifiedToken(principal)),
          (err: unknown) => done(err),
        );
      }) as unknown as SecretOrKeyProvider,
    },
    ((payload: Principal, done: (err: unknown, user?: Principal) => void) =>
      done(null, payload)) as unknown as VerifyCallback,
  );
}
