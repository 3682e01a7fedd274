import { randomBytes } from 'node:crypto';
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
    expect(s.events.retentionDays).toBe(90);
  });

  it('keeps security events EVENTS_RETENTION_DAYS days', () => {
    expect(loadSettings({ EVENTS_RETENTION_DAYS: '30' }).events.retentionDays).toBe(30);
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
    ['KEY_ENCRYPTION_KEY', 'too-short'],
    ['KEY_ROTATION_DAYS', '0'],
    ['JWKS_MAX_AGE', 'ten'],
    ['KEY_PICKUP_SECONDS', '-1'],
    ['PASSWORD_ARGON2_MEMORY_KIB', 'lots'],
    ['PASSWORD_ARGON2_ITERATIONS', '0'],
    ['PASSWORD_ARGON2_PARALLELISM', '0'],
    ['PASSWORD_HASH_CONCURRENCY', '0'],
    ['LOGIN_MAX_FAILURES_PER_USER', '0'],
    ['LOGIN_MAX_FAILURES_PER_IP', '-1'],
    ['LOGIN_LOCKOUT_WAIT_INCREMENT', 'soon'],
    ['EVENTS_RETENTION_DAYS', '0'],
    ['EVENTS_RETENTION_DAYS', '1.5'],
    ['EVENTS_RETENTION_DAYS', 'forever'],
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
    expect(() => loadSettings({ ...production, ADMIN_CLIENT_SECRET: 'dev-admin-secret-change-me' })).toThrow(/ADMIN_CLIENT_SECRET/);
    expect(loadSettings(production).production).toBe(true);
  });

  it.each([
    'http://id.example.com',
    'http://10.0.0.5:3000',
    'http://192.168.1.1',
    'http://[::2]',
    'http://localhost.example.com',
    'http://127.0.0.1.nip.io',
    'HTTP://ID.EXAMPLE.COM',
  ])('refuses the plain-http ISSUER %s in production, naming ISSUER', (issuer) => {
    expect(() => loadSettings({ ...production, ISSUER: issuer })).toThrow(SettingsError);
    expect(() => loadSettings({ ...production, ISSUER: issuer })).toThrow(/^(ISSUER must be https|invalid setting ISSUER)/);
  });

  it.each(['http://localhost:3000', 'http://127.0.0.1:8080', 'http://127.8.9.10', 'http://[::1]:3000', 'https://id.example.com'])(
    'accepts the ISSUER %s in production (https, or loopback http)', (issuer) => {
      expect(loadSettings({ ...production, ISSUER: issuer }).production).toBe(true);
    },
  );

  it.each([
    ['one short key', 'short-cookie-key'],
    ['a short key behind a good one', `${key(43)},${key(31)}`],
    ['a key one character short', key(31)],
  ])('refuses COOKIE_KEYS with %s in production, naming COOKIE_KEYS and not the key', (_case, cookieKeys) => {
    let message = '';
    try {
      loadSettings({ ...production, COOKIE_KEYS: cookieKeys });
    } catch (err) {
      expect(err).toBeInstanceOf(SettingsError);
      message = (err as Error).message;
    }
    expect(message).toMatch(/^COOKIE_KEYS/);
    for (const value of cookieKeys.split(',')) expect(message).not.toContain(value);
  });

  it('refuses an ADMIN_CLIENT_SECRET shorter than 32 characters in production, without printing it', () => {
    for (const secret of ['x', key(31)]) {
      expect(() => loadSettings({ ...production, ADMIN_CLIENT_SECRET: secret })).toThrow(/^ADMIN_CLIENT_SECRET must be at least 32/);
      expect(() => loadSettings({ ...production, ADMIN_CLIENT_SECRET: secret })).not.toThrow(new RegExp(secret));
    }
    expect(loadSettings({ ...production, ADMIN_CLIENT_SECRET: key(32), COOKIE_KEYS: `${key(32)},${key(40)}` }).cookieKeys).toHaveLength(2);
  });

  it('leaves development alone: short keys and plain http are fine outside production', () => {
    expect(loadSettings({ ISSUER: 'http://id.example.com', COOKIE_KEYS: 'a', ADMIN_CLIENT_SECRET: 'x' }).production).toBe(false);
  });

  it('hashes passwords with argon2id at OWASP cost by default, tunable by settings', () => {
    expect(loadSettings({}).password.argon2).toEqual({ memoryKiB: 19456, iterations: 2, parallelism: 1 });
    expect(loadSettings({ PASSWORD_ARGON2_MEMORY_KIB: '65536', PASSWORD_ARGON2_ITERATIONS: '3' }).password.argon2)
      .toEqual({ memoryKiB: 65536, iterations: 3, parallelism: 1 });
    // Tests may hash cheaply; production may not.
    expect(loadSettings({ NODE_ENV: 'test', PASSWORD_ARGON2_MEMORY_KIB: '1024', PASSWORD_ARGON2_ITERATIONS: '1' }).password.argon2.memoryKiB).toBe(1024);
  });

  it.each([
    [{ PASSWORD_ARGON2_MEMORY_KIB: '8192' }],
    [{ PASSWORD_ARGON2_ITERATIONS: '1' }],
    [{ PASSWORD_ARGON2_MEMORY_KIB: '7168', PASSWORD_ARGON2_ITERATIONS: '4' }],
  ])('refuses a password cost below OWASP\'s minimum in production: %j', (cost) => {
    const env = production;
    expect(() => loadSettings({ ...env, ...cost })).toThrow(/PASSWORD_ARGON2_MEMORY_KIB=\d+ with PASSWORD_ARGON2_ITERATIONS=\d+ is below OWASP/);
    // OWASP's equivalent trade-offs are accepted: less memory, more passes.
    expect(loadSettings({ ...env, PASSWORD_ARGON2_MEMORY_KIB: '7168', PASSWORD_ARGON2_ITERATIONS: '5' }).production).toBe(true);
    expect(loadSettings({ ...env, PASSWORD_ARGON2_MEMORY_KIB: '47104', PASSWORD_ARGON2_ITERATIONS: '1' }).production).toBe(true);
  });

  it('turns metrics off with METRICS_PORT=0, and falls back to a free port only for the default outside production', () => {
    expect(loadSettings({ METRICS_PORT: '0' }).operations.metrics).toBeUndefined();
    expect(loadSettings({}).operations.metrics).toEqual({ port: 9464, anyPortIfTaken: true });
    expect(loadSettings({ METRICS_PORT: '9500' }).operations.metrics).toEqual({ port: 9500, anyPortIfTaken: false });
    expect(loadSettings(production).operations.metrics).toEqual({ port: 9464, anyPortIfTaken: false });
    expect(() => loadSettings({ METRICS_PORT: '65536' })).toThrow(/invalid setting METRICS_PORT/);
  });

  it('bounds password hashing by CPU and refuses a memory cost argon2 cannot run', () => {
    const gate = loadSettings({ PASSWORD_HASH_CONCURRENCY: '3' }).password.gate;
    expect(gate).toEqual({ concurrency: 3, queue: 48, perNetwork: 25 });
    expect(() => loadSettings({ PASSWORD_ARGON2_MEMORY_KIB: '16', PASSWORD_ARGON2_PARALLELISM: '4' })).toThrow(/PASSWORD_ARGON2_MEMORY_KIB/);
  });
});

/** A production environment that passes every check; tests spoil one setting at a time. */
const production = {
  NODE_ENV: 'production', MONGODB_URI: 'mongodb://db/oidc', KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64url'), COOKIE_KEYS: key(43),
  ADMIN_CLIENT_ID: 'admin', ADMIN_CLIENT_SECRET: key(43), ISSUER: 'https://id.example.com',
};

function key(length: number): string {
  return randomBytes(length).toString('base64url').slice(0, length);
}
