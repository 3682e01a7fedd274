import { calculateJwkThumbprint, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, jwtVerify, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { adminToken, api } from '../admin/support.js';
import { startServer, type TestServer } from '../support/server.js';

interface KeyView { kid: string; use: string; alg?: string; state: string; source: string }

async function legacyKey(alg: 'RS256' | 'ES256', kid?: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), ...(kid ? { kid } : {}) };
}

/** A deployment from before keys lived in MongoDB: its JWKS and COOKIE_KEYS come from configuration. */
describe('importing configured keys into a fresh database', () => {
  let server: TestServer;
  let rsa: JWK;
  let ec: JWK;
  let ecKid: string;

  beforeAll(async () => {
    rsa = await legacyKey('RS256', 'legacy-rs');
    // No kid: oidc-provider used the RFC 7638 thumbprint, so previously issued tokens carry that.
    ec = await legacyKey('ES256');
    ecKid = await calculateJwkThumbprint(ec);
    server = await startServer({ env: { JWKS: JSON.stringify({ keys: [rsa, ec] }), COOKIE_KEYS: 'legacy-cookie-one,legacy-cookie-two' } });
  });

  afterAll(async () => {
    await server?.close();
  });

  async function keys(target: TestServer): Promise<KeyView[]> {
    return (await api(target.issuer, await adminToken(target.issuer), 'GET', '/keys')).body.keys as KeyView[];
  }

  it('keeps the imported keys signing under their kids, and publishes them', async () => {
    const list = await keys(server);
    expect(list).toEqual(expect.arrayContaining([
      expect.objectContaining({ kid: 'legacy-rs', alg: 'RS256', state: 'current', source: 'imported' }),
      expect.objectContaining({ kid: ecKid, alg: 'ES256', state: 'current', source: 'imported' }),
      expect.objectContaining({ use: 'cookie', state: 'current', source: 'imported' }),
      expect.objectContaining({ use: 'cookie', state: 'previous', source: 'imported' }),
    ]));
    const published = ((await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: JWK[] }).keys.map((k) => k.kid);
    expect(published).toEqual(expect.arrayContaining(['legacy-rs', ecKid]));

    // A token signed now verifies with the legacy public key itself.
    const token = await adminToken(server.issuer);
    expect(decodeProtectedHeader(token).kid).toBe('legacy-rs');
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicPart } = rsa;
    await jwtVerify(token, await importJWK(publicPart, 'RS256'), { issuer: server.issuer });
  });

  it('imports only on first start: later configuration changes do not touch the stored keys', async () => {
    const other = await startServer({
      mongoUri: server.mongoUri, dataDir: server.dataDir,
      env: { JWKS: JSON.stringify({ keys: [await legacyKey('RS256', 'another-rs')] }) },
    });
    try {
      const list = await keys(other);
      expect(list.map((k) => k.kid)).not.toContain('another-rs');
      expect(list.find((k) => k.alg === 'RS256' && k.state === 'current')!.kid).toBe('legacy-rs');
    } finally {
      await other.close();
    }
  });

  it('refuses to import a key it cannot use, naming the setting', async () => {
    const { privateKey } = await generateKeyPair('ES384', { extractable: true });
    await expect(startServer({ env: { JWKS: JSON.stringify({ keys: [await exportJWK(privateKey)] }) } }))
      .rejects.toThrow(/invalid setting JWKS: key 0 is not an RS256 \(RSA\) or ES256 \(P-256\) signing key/);
  });
});
