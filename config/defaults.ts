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
  /** NIST SP 800-63B: length, no context words, not a known common password. */
  passwordPolicy: {
    minLength: 8,
    maxLength: 128,
  },
  mail: {
    /** Waits before the second and third delivery attempt; then the user is told to retry. */
    retryDelaysMs: [250, 1000],
    from: 'Account <no-reply@localhost>',
  },
  /** Self-service accounts: sign-up, email verification and password reset (issue 13). */
  selfService: {
    /** Random bytes in every emailed link's token (base64url); only its SHA-256 is stored. */
    tokenBytes: 32,
    verifyEmailTtl: 24 * 60 * 60,
    resetPasswordTtl: 30 * 60,
  },
  /** Fixed-window counters in MongoDB (src/security/rate-limit.ts), shared by every instance. */
  rateLimits: {
    signUpPerIp: { max: 10, windowSeconds: 60 * 60 },
    resetPerIp: { max: 10, windowSeconds: 15 * 60 },
    /** Over the limit, further requests still get the same answer but no mail. */
    resetPerRecipient: { max: 3, windowSeconds: 60 * 60 },
    verifyResendPerAccount: { max: 3, windowSeconds: 15 * 60 },
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
  production: {
    /** Shortest cookie key and admin client secret accepted (npm run secrets prints 43 characters). */
    minSecretLength: 32,
  },
  development: {
    adminClientId: 'admin',
    adminClientSecret: 'dev-admin-secret-change-me',
    demoUser: { username: 'demo', password: 'demo-password', name: 'Demo User', email: 'demo@example.com' },
    demoClient: {
      client_id: 'demo-app',
      client_secret: 'demo-app-secret',
      client_name: 'Demo App',
    },
    /** `npm run demo`: the example app and API under examples/, beside the provider. */
    demo: {
      providerName: 'oidc-server',
      appUrl: 'http://localhost:8080',
      apiUrl: 'http://localhost:8081',
      /** Where the example app receives the code, lands after sign-out and takes logout tokens. */
      paths: { callback: '/callback', afterLogout: '/', backchannelLogout: '/backchannel-logout' },
    },
  },
} as const;
