import path from 'node:path';
import { z } from 'zod';

import { defaults } from '../../config/defaults.js';

/** A setting that is missing or malformed; the message names the environment variable. */
export class SettingsError extends Error {
  override name = 'SettingsError';
}

const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const flag = (fallback: boolean) =>
  z.enum(['true', 'false', '1', '0']).default(fallback ? 'true' : 'false').transform((v) => v === 'true' || v === '1');
const httpUrl = z.string().url().refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL');

const envSchema = z.object({
  NODE_ENV: z.string().default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(defaults.port),
  ISSUER: httpUrl.optional(),
  MONGODB_URI: z.string().regex(/^mongodb(\+srv)?:\/\//, 'must start with mongodb:// or mongodb+srv://').optional(),
  API_AUDIENCE: httpUrl.optional(),
  DATA_DIR: z.string().min(1).default(defaults.dataDir),
  SIGNING_ALG: z.enum(['RS256', 'ES256']).default(defaults.signingAlg),
  JWKS: z.string().optional(),
  JWKS_FILE: z.string().optional(),
  COOKIE_KEYS: z.string().optional(),
  ADMIN_CLIENT_ID: z.string().min(1).optional(),
  ADMIN_CLIENT_SECRET: z.string().min(1).optional(),
  TRUST_PROXY: flag(false),
  OUTBOUND_PRIVATE_NETWORKS: flag(false),
  ACCESS_TOKEN_TTL: seconds(defaults.ttl.accessToken),
  ID_TOKEN_TTL: seconds(defaults.ttl.idToken),
  SESSION_TTL: seconds(defaults.ttl.session),
  GRANT_TTL: seconds(defaults.ttl.grant),
  REFRESH_TOKEN_ROTATE: flag(defaults.refreshToken.rotate),
  REFRESH_TOKEN_IDLE_TTL: seconds(defaults.refreshToken.idleTtl),
  REFRESH_TOKEN_ABSOLUTE_TTL: seconds(defaults.refreshToken.absoluteTtl),
  REFRESH_TOKEN_GRACE_SECONDS: z.coerce.number().int().min(0).max(defaults.refreshToken.maxGraceSeconds)
    .default(defaults.refreshToken.graceSeconds),
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(defaults.operations.metricsPort),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default(defaults.operations.logLevel),
  DATABASE_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(defaults.operations.databaseTimeoutMs),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(120_000).default(defaults.operations.shutdownGraceMs),
  SCRYPT_N: z.coerce.number().int().min(2 ** 14).default(defaults.password.scryptN)
    .refine((n) => (n & (n - 1)) === 0, 'must be a power of two'),
});

export interface Settings {
  production: boolean;
  port: number;
  issuer: string;
  mongodbUri: string | undefined;
  apiAudience: string;
  dataDir: string;
  signingAlg: 'RS256' | 'ES256';
  /** Private JWKS (JSON text) or a file holding it; both absent = generate in development. */
  jwks: string | undefined;
  jwksFile: string | undefined;
  cookieKeys: string[] | undefined;
  admin: { clientId: string; clientSecret: string };
  trustProxy: boolean;
  /** Lets oidc-provider's outbound requests (back-channel logout) reach private and loopback addresses. */
  outboundPrivateNetworks: boolean;
  ttl: { accessToken: number; idToken: number; session: number; grant: number };
  refreshToken: { rotate: boolean; idleTtl: number; absoluteTtl: number; graceSeconds: number };
  scryptN: number;
  /** Metrics listener, logs, database timeouts and shutdown (README, "Operations"). */
  operations: { metricsPort: number; logLevel: LogLevel; databaseTimeoutMs: number; shutdownGraceMs: number };
}

export type LogLevel = z.infer<typeof envSchema>['LOG_LEVEL'];

/** Reads and validates the environment; throws SettingsError naming the first bad variable. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const parsed = envSchema.safeParse(stripEmpty(env));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SettingsError(`invalid setting ${String(issue.path[0])}: ${issue.message}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const issuer = (e.ISSUER ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  const settings: Settings = {
    production,
    port: e.PORT,
    issuer,
    mongodbUri: e.MONGODB_URI,
    apiAudience: e.API_AUDIENCE ?? `${issuer}/api`,
    dataDir: path.resolve(e.DATA_DIR),
    signingAlg: e.SIGNING_ALG,
    jwks: e.JWKS,
    jwksFile: e.JWKS_FILE,
    cookieKeys: e.COOKIE_KEYS?.split(',').map((k) => k.trim()).filter(Boolean),
    admin: {
      clientId: e.ADMIN_CLIENT_ID ?? defaults.development.adminClientId,
      clientSecret: e.ADMIN_CLIENT_SECRET ?? defaults.development.adminClientSecret,
    },
    trustProxy: e.TRUST_PROXY,
    outboundPrivateNetworks: e.OUTBOUND_PRIVATE_NETWORKS,
    ttl: { accessToken: e.ACCESS_TOKEN_TTL, idToken: e.ID_TOKEN_TTL, session: e.SESSION_TTL, grant: e.GRANT_TTL },
    refreshToken: {
      rotate: e.REFRESH_TOKEN_ROTATE,
      idleTtl: e.REFRESH_TOKEN_IDLE_TTL,
      absoluteTtl: e.REFRESH_TOKEN_ABSOLUTE_TTL,
      graceSeconds: e.REFRESH_TOKEN_GRACE_SECONDS,
    },
    scryptN: e.SCRYPT_N,
    operations: {
      metricsPort: e.METRICS_PORT,
      logLevel: e.LOG_LEVEL,
      databaseTimeoutMs: e.DATABASE_TIMEOUT_MS,
      shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    },
  };
  if (production) requireProductionSecrets(e);
  return settings;
}

/** In production nothing may fall back to a generated or well-known secret. */
function requireProductionSecrets(e: z.infer<typeof envSchema>): void {
  const missing = [
    ['MONGODB_URI', e.MONGODB_URI],
    ['JWKS or JWKS_FILE', e.JWKS ?? e.JWKS_FILE],
    ['COOKIE_KEYS', e.COOKIE_KEYS],
    ['ADMIN_CLIENT_ID', e.ADMIN_CLIENT_ID],
    ['ADMIN_CLIENT_SECRET', e.ADMIN_CLIENT_SECRET],
    ['ISSUER', e.ISSUER],
  ].filter(([, value]) => !value).map(([name]) => name);
  if (missing.length > 0) {
    throw new SettingsError(`NODE_ENV=production requires ${missing.join(', ')} to be set`);
  }
  if (e.ADMIN_CLIENT_SECRET === defaults.development.adminClientSecret) {
    throw new SettingsError('ADMIN_CLIENT_SECRET must not be the development default in production');
  }
}

/** `FOO=` in a shell or compose file means "unset", not "empty string". */
function stripEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => !!entry[1]));
}
