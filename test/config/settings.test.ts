import { describe, expect, it } from 'vitest';

import { loadSettings, SettingsError } from '../../src/config/settings.js';

describe('settings', () => {
  it('defaults to port 3000, a localhost issuer and the API audience under it', () => {
    const s = loadSettings({});
    expect(s.port).toBe(3000);
    expect(s.issuer).toBe('http://localhost:3000');
    expect(s.apiAudience).toBe('http://localhost:3000/api');
    expect(s.ttl.accessToken).toBeLessThanOrEqual(600);
    expect(s.refreshToken).toMatchObject({ rotate: true, graceSeconds: 0 });
  });

  it('derives the issuer from PORT and drops a trailing slash from ISSUER', () => {
    expect(loadSettings({ PORT: '4000' }).issuer).toBe('http://localhost:4000');
    expect(loadSettings({ ISSUER: 'https://id.example.com/' }).issuer).toBe('https://id.example.com');
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['ISSUER', 'not a url'],
    ['MONGODB_URI', 'postgres://x'],
    ['ACCESS_TOKEN_TTL', '-5'],
    ['REFRESH_TOKEN_GRACE_SECONDS', '61'],
    ['REFRESH_TOKEN_ROTATE', 'maybe'],
    ['SIGNING_ALG', 'HS256'],
    ['SCRYPT_N', '1000'],
    ['KEY_ENCRYPTION_KEY', 'too-short'],
    ['KEY_ROTATION_DAYS', '0'],
    ['JWKS_MAX_AGE', 'ten'],
    ['KEY_PICKUP_SECONDS', '-1'],
  ])('rejects %s=%s with a message naming the setting', (name, value) => {
    expect(() => loadSettings({ [name]: value })).toThrow(SettingsError);
    expect(() => loadSettings({ [name]: value })).toThrow(new RegExp(`invalid setting ${name}`));
  });

  it('refuses production without a database, keys and secrets, naming each missing one', () => {
    let message = '';
    try {
      loadSettings({ NODE_ENV: 'production' });
    } catch (err) {
      message = (err as Error).message;
    }
    for (const name of ['MONGODB_URI', 'KEY_ENCRYPTION_KEY', 'ADMIN_CLIENT_ID', 'ADMIN_CLIENT_SECRET', 'ISSUER']) {
      expect(message).toContain(name);
    }
  });

  it('refuses the development admin secret in production', () => {
    const env = {
      NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/oidc', KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64url'),
      ADMIN_CLIENT_ID: 'admin', ADMIN_CLIENT_SECRET: 'dev-admin-secret-change-me', ISSUER: 'https://id.example.com',
    };
    expect(() => loadSettings(env)).toThrow(/ADMIN_CLIENT_SECRET/);
    expect(loadSettings({ ...env, ADMIN_CLIENT_SECRET: 's3cr3t-from-vault' }).production).toBe(true);
  });
});
