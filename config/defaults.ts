/**
 * Every tunable default in one place. Environment variables (see src/config/settings.ts)
 * override these; nothing else in the code repeats these numbers.
 */
export const defaults = {
  port: 3000,
  dataDir: 'data',
  /** Signing algorithm of ID tokens and JWT access tokens; ES256 keys are generated too. */
  signingAlg: 'RS256',
  apiScopes: ['api:read', 'api:write'],
  ttl: {
    /** Short on purpose: resource servers accept a JWT until it expires. */
    accessToken: 10 * 60,
    clientCredentials: 10 * 60,
    idToken: 60 * 60,
    authorizationCode: 60,
    interaction: 60 * 60,
    session: 14 * 24 * 60 * 60,
    grant: 90 * 24 * 60 * 60,
  },
  refreshToken: {
    rotate: true,
    /** Each refresh token dies if unused this long. */
    idleTtl: 14 * 24 * 60 * 60,
    /** The whole family dies this long after the first issue. */
    absoluteTtl: 90 * 24 * 60 * 60,
    /** Replay of the immediate predecessor allowed within this window; 0 = off. */
    graceSeconds: 0,
    maxGraceSeconds: 60,
  },
  password: {
    /** scrypt cost (OWASP: N=2^17, r=8, p=1); stored with each hash so it can change later. */
    scryptN: 2 ** 17,
    scryptR: 8,
    scryptP: 1,
    keyLength: 32,
  },
  limits: {
    /** Largest form or JSON body our own routes accept. */
    bodyBytes: 16 * 1024,
  },
  loginThrottle: {
    /** Failed sign-ins per username within one window before that username is locked out. */
    maxFailures: 5,
    windowSeconds: 15 * 60,
  },
  operations: {
    /** Prometheus scrapes this port, never the public issuer's (0 = any free port). */
    metricsPort: 9464,
    logLevel: 'info',
    /** Every MongoDB operation, server selection included, gives up after this long, so a
     * request fails fast (503) when the database is down or partitioned. */
    databaseTimeoutMs: 750,
    /** /health/ready answers within this (plus a little) whatever the database does. */
    readinessTimeoutMs: 500,
    /** What a 503 tells clients to wait before retrying. */
    retryAfterSeconds: 5,
    /** SIGTERM: in-flight requests get this long to finish before connections are cut. */
    shutdownGraceMs: 10_000,
  },
  development: {
    adminClientId: 'admin',
    adminClientSecret: 'dev-admin-secret-change-me',
    demoUser: { username: 'demo', password: 'demo-password', name: 'Demo User', email: 'demo@example.com' },
    demoClient: {
      client_id: 'demo-app',
      client_secret: 'demo-app-secret',
      client_name: 'Demo App',
      redirect_uris: ['http://localhost:8080/callback'],
      post_logout_redirect_uris: ['http://localhost:8080/'],
    },
  },
} as const;
