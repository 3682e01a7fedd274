import { isIPv4 } from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { z } from 'zod';

import { defaults } from '../../config/defaults.js';
import type { MetricsListener } from '../observability/metrics-server.js';
import type { HashGateLimits } from '../security/hash-gate.js';
import type { Argon2Params } from '../security/password.js';

/** A setting that is missing or malformed; the message names the environment variable. */
export class SettingsError extends Error {
  override name = 'SettingsError';
}

const seconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const flag = (fallback: boolean) =>
  z.enum(['true', 'false', '1', '0']).default(fallback ? 'true' : 'false').transform((v) => v === 'true' || v === '1');
/** A positive whole number of anything, validated like a duration. */
const count = seconds;
const httpUrl = z.string().url().refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL');

/** One hash per CPU, but never more than libuv's thread pool (where password hashes run;
 * main.ts sizes it to CPUs + 1, src/config/thread-pool.ts), so other work finds a free thread. */
function defaultHashConcurrency(): number {
  return Math.max(1, Math.min(availableParallelism(), Number(process.env.UV_THREADPOOL_SIZE) || 4));
}

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
  SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must start with smtp:// or smtps://').optional(),
  MAIL_FROM: z.string().min(3).max(320).default(defaults.mail.from),
  REGISTRATION: z.enum(['open', 'closed']).optional(),
  MFA: z.enum(['optional', 'required']).default('optional'),
  PASSWORD_RESET: z.enum(['on', 'off']).optional(),
  DEMO_APP_URL: httpUrl.default(defaults.development.demo.appUrl),
  DEMO_API_URL: httpUrl.default(defaults.development.demo.apiUrl),
  ACCOUNT_RECENT_SIGN_IN_SECONDS: seconds(defaults.account.recentSignInSeconds),
  ACCOUNT_API_CLIENTS: z.string().optional(),
  // 32 bytes in base64url (AES-256); `npm run secrets` prints one.
  KEY_ENCRYPTION_KEY: z.string().regex(/^[\w-]{43}$/, 'must be 32 bytes, base64url-encoded (npm run secrets prints one)').optional(),
  KEY_ROTATION_DAYS: z.coerce.number().int().positive().default(defaults.keys.rotationDays),
  JWKS_MAX_AGE: seconds(defaults.keys.jwksMaxAge),
  KEY_PICKUP_SECONDS: seconds(defaults.keys.pickupSeconds),
  JWKS_RETENTION_SECONDS: z.coerce.number().int().positive().optional(),
  // argon2's own minimum is 8 KiB per lane; production floors are checked below.
  PASSWORD_ARGON2_MEMORY_KIB: z.coerce.number().int().min(8).max(4 * 1024 * 1024).default(defaults.password.argon2.memoryKiB),
  PASSWORD_ARGON2_ITERATIONS: z.coerce.number().int().min(1).max(100).default(defaults.password.argon2.iterations),
  PASSWORD_ARGON2_PARALLELISM: z.coerce.number().int().min(1).max(16).default(defaults.password.argon2.parallelism),
  PASSWORD_HASH_CONCURRENCY: z.coerce.number().int().min(1).default(defaultHashConcurrency),
  PASSWORD_HASH_QUEUE: z.coerce.number().int().min(0).optional(),
  LOGIN_MAX_FAILURES_PER_USER: count(defaults.loginThrottle.maxFailuresPerUser),
  LOGIN_MAX_FAILURES_PER_IP: count(defaults.loginThrottle.maxFailuresPerIp),
  LOGIN_LOCKOUT_WAIT_INCREMENT: seconds(defaults.loginThrottle.waitIncrementSeconds),
  LOGIN_LOCKOUT_MAX_WAIT: seconds(defaults.loginThrottle.maxWaitSeconds),
  LOGIN_FAILURE_RESET: seconds(defaults.loginThrottle.failureResetSeconds),
  // 0 turns the listener off; unset in development, the default port or any free one.
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default(defaults.operations.logLevel),
  DATABASE_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(defaults.operations.databaseTimeoutMs),
  EVENTS_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(defaults.events.retentionDays),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(120_000).default(defaults.operations.shutdownGraceMs),
  DPOP_REQUIRE_NONCE: flag(false),
  REQUIRE_PAR: flag(false),
  DEVICE_FLOW: z.enum(['on', 'off']).default('on'),
  DYNAMIC_REGISTRATION: z.enum(['on', 'off']).default('off'),
});

export interface Settings {
  production: boolean;
  port: number;
  issuer: string;
  mongodbUri: string | undefined;
  apiAudience: string;
  dataDir: string;
  signingAlg: 'RS256' | 'ES256';
  /** Private JWKS (JSON text) or a file holding it, imported into MongoDB on first start. */
  jwks: string | undefined;
  jwksFile: string | undefined;
  /** Cookie keys imported into MongoDB on first start. */
  cookieKeys: string[] | undefined;
  keys: {
    /** Encrypts private key material in MongoDB; absent = generated under dataDir (development). */
    encryptionKey: string | undefined;
    rotationDays: number;
    jwksMaxAge: number;
    pickupSeconds: number;
    /** How long a signing key stays in the JWKS after it stopped signing; absent = derived from token lifetimes. */
    retentionSeconds: number | undefined;
  };
  admin: { clientId: string; clientSecret: string };
  trustProxy: boolean;
  /** Lets oidc-provider's outbound requests (back-channel logout) reach private and loopback addresses. */
  outboundPrivateNetworks: boolean;
  ttl: { accessToken: number; idToken: number; session: number; grant: number };
  refreshToken: { rotate: boolean; idleTtl: number; absoluteTtl: number; graceSeconds: number };
  /** The account center: how recent a sign-in destructive actions need, and the first-party
   * clients (besides the account center itself) that may ask for the account API. */
  account: { recentSignInSeconds: number; apiClients: string[] };
  /** Outgoing mail: SMTP in production; absent = the development outbox under dataDir. */
  mail: { smtpUrl: string | undefined; from: string };
  /** Self sign-up: open in development, closed unless asked for in production. */
  registration: 'open' | 'closed';
  /** Two-step verification: `required` makes every account set one up before it gets a code. */
  mfa: 'optional' | 'required';
  /** "Forgot password?": on wherever mail can go out (SMTP, or the development outbox). */
  passwordReset: boolean;
  /** Development only: where `npm run demo` runs the example app and API (the seed registers the app). */
  demo: { appUrl: string; apiUrl: string };
  password: PasswordSettings;
  loginThrottle: ThrottleSettings;
  /** Metrics listener, logs, database timeouts and shutdown (docs/operations.md). */
  operations: {
    /** Absent: no metrics listener (METRICS_PORT=0). */
    metrics: MetricsListener | undefined;
    logLevel: LogLevel;
    databaseTimeoutMs: number;
    shutdownGraceMs: number;
  };
  /** DPoP nonces, PAR, the device flow and dynamic client registration (docs/protocols.md). */
  protocols: ProtocolSettings;
  /** Security events are deleted this many days after they happened. */
  events: { retentionDays: number };
}

export interface ProtocolSettings {
  /** Every DPoP proof must carry a nonce this server issued (`DPoP-Nonce`). */
  dpopRequireNonce: boolean;
  /** Every authorization request must be pushed first (RFC 9126), for all clients. */
  requirePar: boolean;
  deviceFlow: boolean;
  /** RFC 7591/7592, open only to holders of an initial access token. */
  dynamicRegistration: boolean;
}

export interface PasswordSettings {
  argon2: Argon2Params;
  gate: HashGateLimits;
}

export interface ThrottleSettings {
  maxFailuresPerUser: number;
  maxFailuresPerIp: number;
  waitIncrementSeconds: number;
  maxWaitSeconds: number;
  failureResetSeconds: number;
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
    keys: {
      encryptionKey: e.KEY_ENCRYPTION_KEY,
      rotationDays: e.KEY_ROTATION_DAYS,
      jwksMaxAge: e.JWKS_MAX_AGE,
      pickupSeconds: e.KEY_PICKUP_SECONDS,
      retentionSeconds: e.JWKS_RETENTION_SECONDS,
    },
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
    account: {
      recentSignInSeconds: e.ACCOUNT_RECENT_SIGN_IN_SECONDS,
      apiClients: e.ACCOUNT_API_CLIENTS?.split(',').map((id) => id.trim()).filter(Boolean) ?? [],
    },
    mail: { smtpUrl: e.SMTP_URL, from: e.MAIL_FROM },
    registration: e.REGISTRATION ?? (production ? 'closed' : 'open'),
    mfa: e.MFA,
    passwordReset: e.PASSWORD_RESET ? e.PASSWORD_RESET === 'on' : !production || e.SMTP_URL !== undefined,
    demo: { appUrl: e.DEMO_APP_URL.replace(/\/+$/, ''), apiUrl: e.DEMO_API_URL.replace(/\/+$/, '') },
    password: {
      argon2: { memoryKiB: e.PASSWORD_ARGON2_MEMORY_KIB, iterations: e.PASSWORD_ARGON2_ITERATIONS, parallelism: e.PASSWORD_ARGON2_PARALLELISM },
      gate: hashGateLimits(e.PASSWORD_HASH_CONCURRENCY, e.PASSWORD_HASH_QUEUE),
    },
    loginThrottle: {
      maxFailuresPerUser: e.LOGIN_MAX_FAILURES_PER_USER,
      maxFailuresPerIp: e.LOGIN_MAX_FAILURES_PER_IP,
      waitIncrementSeconds: e.LOGIN_LOCKOUT_WAIT_INCREMENT,
      maxWaitSeconds: e.LOGIN_LOCKOUT_MAX_WAIT,
      failureResetSeconds: e.LOGIN_FAILURE_RESET,
    },
    operations: {
      metrics: e.METRICS_PORT === 0 ? undefined : {
        port: e.METRICS_PORT ?? defaults.operations.metricsPort,
        // A second instance on a developer's machine should start, not die on the default port.
        anyPortIfTaken: e.METRICS_PORT === undefined && !production,
      },
      logLevel: e.LOG_LEVEL,
      databaseTimeoutMs: e.DATABASE_TIMEOUT_MS,
      shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    },
    protocols: {
      dpopRequireNonce: e.DPOP_REQUIRE_NONCE,
      requirePar: e.REQUIRE_PAR,
      deviceFlow: e.DEVICE_FLOW === 'on',
      dynamicRegistration: e.DYNAMIC_REGISTRATION === 'on',
    },
    events: { retentionDays: e.EVENTS_RETENTION_DAYS },
  };
  if (settings.password.argon2.memoryKiB < 8 * settings.password.argon2.parallelism) {
    throw new SettingsError('invalid setting PASSWORD_ARGON2_MEMORY_KIB: must be at least 8 KiB per lane (PASSWORD_ARGON2_PARALLELISM)');
  }
  if (production) {
    requireProductionSecrets(e);
    requireProductionStrength(settings);
    requireOwaspPasswordCost(settings.password.argon2);
    requireProductionMail(settings);
  }
  return settings;
}

/** The development outbox is a directory nobody reads in production: a sign-up or reset
 * whose mail can never arrive must not be offered there. */
function requireProductionMail(settings: Settings): void {
  if (settings.mail.smtpUrl) return;
  if (settings.registration === 'open') throw new SettingsError('REGISTRATION=open requires SMTP_URL in production');
  if (settings.passwordReset) throw new SettingsError('PASSWORD_RESET=on requires SMTP_URL in production');
}

/** In production nothing may fall back to a generated or well-known secret. */
function requireProductionSecrets(e: z.infer<typeof envSchema>): void {
  const missing = [
    ['MONGODB_URI', e.MONGODB_URI],
    ['KEY_ENCRYPTION_KEY', e.KEY_ENCRYPTION_KEY],
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

/**
 * Present is not enough: a plain-http issuer sends cookies and codes in clear, and a short
 * cookie key or admin secret can be guessed offline. Loopback http stays allowed for a
 * production build tried on one machine.
 */
function requireProductionStrength(settings: Settings): void {
  const issuer = new URL(settings.issuer);
  if (issuer.protocol === 'http:' && !isLoopback(issuer.hostname)) {
    throw new SettingsError(`ISSUER must be https in production (http only for localhost, 127.0.0.0/8 or [::1]); got ${issuer.origin}`);
  }
  const min = defaults.production.minSecretLength;
  // The values themselves are secrets: the messages say which and how long, never what.
  const shortKeys = (settings.cookieKeys ?? []).filter((key) => key.length < min).length;
  if (shortKeys > 0) {
    throw new SettingsError(`COOKIE_KEYS: every key must be at least ${min} characters in production (${shortKeys} shorter); npm run secrets prints good ones`);
  }
  if (settings.admin.clientSecret.length < min) {
    throw new SettingsError(`ADMIN_CLIENT_SECRET must be at least ${min} characters in production; npm run secrets prints a good one`);
  }
}

function isLoopback(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]') return true;
  return isIPv4(hostname) && hostname.startsWith('127.');
}

function hashGateLimits(concurrency: number, queue = concurrency * defaults.hashGate.queuePerSlot): HashGateLimits {
  return { concurrency, queue, perNetwork: Math.max(1, Math.floor((concurrency + queue) * defaults.hashGate.networkShare)) };
}

/** Production hashes at least as hard as one of OWASP's equivalent argon2id settings. */
function requireOwaspPasswordCost({ memoryKiB, iterations }: Argon2Params): void {
  const floors = defaults.password.argon2Floors;
  if (floors.some((floor) => memoryKiB >= floor.memoryKiB && iterations >= floor.iterations)) return;
  const allowed = floors.map((f) => `m=${f.memoryKiB} KiB with t=${f.iterations}`).join(', or ');
  throw new SettingsError(
    `PASSWORD_ARGON2_MEMORY_KIB=${memoryKiB} with PASSWORD_ARGON2_ITERATIONS=${iterations} is below OWASP's minimum in production; use at least ${allowed}`,
  );
}

/** `FOO=` in a shell or compose file means "unset", not "empty string". */
function stripEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => !!entry[1]));
}
