import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

import { send } from '../support/user-agent.js';

/** A DPoP key of a test's own, and proofs made with jose, not with the library under test. */
export interface ProofKey {
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function proofKey(): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateKey, jwk: await exportJWK(publicKey) };
}

/** One DPoP proof JWT (RFC 9449 §4.2) for `method url`. */
export function proof(key: ProofKey, method: string, url: string, extra: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ htm: method, htu: url, jti: randomUUID(), ...extra })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk })
    .setIssuedAt()
    .sign(key.privateKey);
}

export interface JsonAnswer { status: number; body: Record<string, unknown>; headers: Headers }

/** A form POST (a token or introspection request) with optional Basic auth and DPoP proof;
 * a `Host` header is sent as given, so two instances can serve one issuer. */
export async function tokenPost(url: string, params: Record<string, string>, headers: Record<string, string> = {}): Promise<JsonAnswer> {
  const res = await send(new URL(url), 'POST', { 'content-type': 'application/x-www-form-urlencoded', ...headers }, new URLSearchParams(params).toString());
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}
