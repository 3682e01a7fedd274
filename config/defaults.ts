/**
 * Every tunable default in one place. Environment variables (see src/config/settings.ts)
 * override these; nothing else in the code repeats these numbers.
 */
export const defaults = {
  /** HTTP port of the issuer (PORT). */
  port: 3000,
  /** Development key-encryption key, the embedded MongoDB's data and the mail outbox (DATA_DIR). */
  dataDir: 'data',
  /** Signing algorithm of ID tokens and JWT access tokens; ES256 keys are generated too. */
  signingAlg: 'RS256',
  /** Scopes of the API that API_AUDIENCE names, registered with these on first start. */
  apiScopes: ['api:read', 'api:write'],
  /** Registered APIs, roles and machine grants (docs/apis-and-roles.md). */
  apis: {
    /** What the API that API_AUDIENCE names is called on the consent page until renamed. */
    legacyName: 'API',
    /** Each instance checks at most this often whether APIs or roles changed: the longest
     * an instance issues tokens by a previous definition after an admin change. */
    refreshMs: 1000,
    /** Scopes one API may define. */
    maxScopes: 100,
    /** Permissions one role may hold. */
    maxPermissions: 200,
    /** Roles one user may have. */
    maxRolesPerUser: 50,
    /** Longest access-token lifetime an API may ask for, in seconds. */
    maxAccessTokenTtl: 24 * 60 * 60,
  },
  /** Lifetimes, in seconds. */
  ttl: {
    /** Short on purpose: resource servers accept a JWT until it expires. */
    accessToken: 10 * 60,
    /** Access tokens from the client_credentials grant (the admin token among them). */
    clientCredentials: 10 * 60,
    idToken: 60 * 60,
    /** An authorization code must be exchanged within this. */
    authorizationCode: 60,
    /** A sign-in or consent page stays usable this long. */
    interaction: 60 * 60,
    /** Browser session at the provider; cookie keys keep verifying this long after they stop signing. */
    session: 14 * 24 * 60 * 60,
    /** A user's consent to an app; never shorter than the app's refresh-token absolute lifetime. */
    grant: 90 * 24 * 60 * 60,
    /** Fixed by oidc-provider (back-channel logout tokens); listed so key retention counts it. */
    logoutToken: 120,
  },
  keys: {
    /** A signing or cookie key signs this many days before the scheduled rotation replaces it. */
    rotationDays: 90,
    /** Cache-Control max-age of /jwks: how long relying parties may keep our key set. */
    jwksMaxAge: 10 * 60,
    /** Every instance re-reads the key set from MongoDB this often (the bound on agreement). */
    pickupSeconds: 30,
  },
  refreshToken: {
    /** Every refresh returns a new refresh token and retires the one presented. */
    rotate: true,
    /** Each refresh token dies if unused this long. */
    idleTtl: 14 * 24 * 60 * 60,
    /** The whole family dies this long after the first issue. */
    absoluteTtl: 90 * 24 * 60 * 60,
    /** Replay of the immediate predecessor allowed within this window; 0 = off. */
    graceSeconds: 0,
    /** Longest grace period a setting or a client may ask for. */
    maxGraceSeconds: 60,
    /** A revoked or superseded token's successor slot stays blocked this long, so a save
     * still in flight when it was blocked can never land (far longer than any request); a
     * revoked family's records are gone after it. */
    fenceSeconds: 10 * 60,
  },
  password: {
    /** argon2id cost (OWASP's m=19 MiB, t=2, p=1); stored with each hash so it can change later. */
    argon2: { memoryKiB: 19 * 1024, iterations: 2, parallelism: 1 },
    /** OWASP's equivalent argon2id settings: production refuses a cost below all of them. */
    argon2Floors: [
      { memoryKiB: 46 * 1024, iterations: 1 },
      { memoryKiB: 19 * 1024, iterations: 2 },
      { memoryKiB: 12 * 1024, iterations: 3 },
      { memoryKiB: 9 * 1024, iterations: 4 },
      { memoryKiB: 7 * 1024, iterations: 5 },
    ],
    /** Random salt per password hash. */
    saltBytes: 16,
    /** Length of the derived hash. */
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
    /** Sender of every mail (MAIL_FROM). */
    from: 'Account <no-reply@localhost>',
  },
  hashGate: {
    /** Hashes allowed to wait, per concurrent hash: a full queue drains in 16 hash times (~0.4 s
     * idle, ~1 s on a saturated machine), which bounds how long an admitted sign-in waits.
     * A shorter queue sheds more sign-ins under load (in `npm run bench`, 4 per slot shed 1.6
     * times per completed sign-in against ~0.5 at 16), and each shed costs reads and a page.
     * Waiting hashes hold no memory; only running ones (concurrency × argon2 memory) do. */
    queuePerSlot: 16,
    /** Share of the gate's places (running or waiting) one client network may hold at once. */
    networkShare: 0.5,
    /** What a refused sign-in is told to wait (503 Retry-After). */
    retryAfterSeconds: 1,
    /** Threads libuv's pool has beyond one per CPU (the gate's hashes), for signing, files, DNS. */
    spareThreads: 1,
  },
  /** Self-service accounts: sign-up, email verification and password reset. */
  selfService: {
    /** Random bytes in every emailed link's token (base64url); only its SHA-256 is stored. */
    tokenBytes: 32,
    /** An email verification link works this long, in seconds. */
    verifyEmailTtl: 24 * 60 * 60,
    /** A password reset link works this long, in seconds. */
    resetPasswordTtl: 30 * 60,
    /** The link mailed to the old address after an email change (to take the account back) works this long, in seconds. */
    restoreEmailTtl: 7 * 24 * 60 * 60,
  },
  /** Fixed-window counters in MongoDB (src/security/rate-limit.ts), shared by every instance.
   * "Network": the client's address as the sign-in throttle counts it (an IPv6 /64). */
  rateLimits: {
    /** Sign-ups from one client network. */
    signUpPerNetwork: { max: 10, windowSeconds: 60 * 60 },
    /** "Forgot password?" requests from one client network (429 beyond). */
    resetPerNetwork: { max: 10, windowSeconds: 15 * 60 },
    /** Over the limit, further requests still get the same answer but no mail. */
    resetPerRecipient: { max: 3, windowSeconds: 60 * 60 },
    /** "Send the link again" for one account, and from one client network (any accounts). */
    verifyResendPerAccount: { max: 3, windowSeconds: 15 * 60 },
    verifyResendPerNetwork: { max: 10, windowSeconds: 15 * 60 },
    /** Email changes in the account center: each mails two addresses and may answer "taken". */
    emailChangePerAccount: { max: 5, windowSeconds: 60 * 60 },
    emailChangePerNetwork: { max: 10, windowSeconds: 60 * 60 },
  },
  /** Ways in beyond the browser code flow (docs/protocols.md). */
  protocols: {
    /** A seen DPoP proof or client assertion is remembered at least this long, until the
     * save that follows its first use sets the proof's own expiry. */
    replayClaimSeconds: 10 * 60,
    deviceFlow: {
      /** How long a device's user code can be entered (RFC 8628 `expires_in`). */
      codeTtl: 10 * 60,
      /** The least time between two polls of one device (RFC 8628's default `interval`). */
      pollIntervalSeconds: 5,
      /** User-code submissions per client network: each is a guess at a live code. */
      userCodeAttempts: { max: 20, windowSeconds: 15 * 60 },
    },
    /** Initial access tokens for dynamic client registration, when no expiry is given. */
    initialAccessTokenTtl: 24 * 60 * 60,
  },
  /** Two-step verification (docs/two-step-verification.md). */
  mfa: {
    /** Authenticator apps: RFC 6238's SHA-1, 6 digits, 30 s; codes one step early or late still count. */
    totp: { digits: 6, periodSeconds: 30, window: 1 },
    /** Single-use recovery codes shown once: how many, and how many random bytes each. */
    recoveryCodes: { count: 10, bytes: 8 },
    /** How long a sign-in may sit between its password and its second step. */
    secondStepSeconds: 10 * 60,
    /** A passkey ceremony's challenge must be answered within this. */
    passkeyChallengeSeconds: 5 * 60,
    /** Longest name a person may give a passkey. */
    passkeyNameLength: 64,
    /** Codes typed for one account from anywhere: a holder of the password guesses no faster. */
    codeAttemptsPerAccount: { max: 10, windowSeconds: 15 * 60 },
  },
  limits: {
    /** Largest form or JSON body our own routes accept. */
    bodyBytes: 16 * 1024,
  },
  /** Keycloak-style brute-force detection, counted per (username, client IP) and per client IP. */
  loginThrottle: {
    /** Failed sign-ins for one username from one IP before a lockout. */
    maxFailuresPerUser: 5,
    /** Failed sign-ins from one IP, any usernames, before that IP is locked out. */
    maxFailuresPerIp: 20,
    /** The n-th lockout in a row lasts n times this (Keycloak's "wait increment") … */
    waitIncrementSeconds: 60,
    /** … up to this ("max wait"). */
    maxWaitSeconds: 15 * 60,
    /** Failures and lockout history are forgotten this long after the last one ("failure reset time"). */
    failureResetSeconds: 12 * 60 * 60,
  },
  /** Security events (the `events` collection): MongoDB's TTL monitor deletes each this many
   * days after it happened, so the audit trail stays bounded whoever causes the events. */
  events: {
    retentionDays: 90,
  },
  /** Data migrations (src/db/migrations.ts): each runs once per database, claimed by one instance. */
  migrations: {
    /** A claim not renewed for this long is taken over: the instance that held it is gone. */
    leaseSeconds: 60,
    /** How often a running migration renews its claim, and a waiting instance looks again. */
    pollMs: 500,
  },
  /** The account center (/account) and its API: a first-party client of this server. */
  account: {
    /** The account center's client id at this provider. */
    clientId: 'account-center',
    /** The account API's scope, on the resource <ISSUER>/account. */
    scope: 'account',
    /** Remove access, sign out others: the sign-in (or password confirmation) must be this recent. */
    recentSignInSeconds: 10 * 60,
    /** A session's "last active" is written at most this often. */
    lastActiveEverySeconds: 60,
    /** How many of the user's own security events the page shows. */
    activityShown: 20,
  },
  production: {
    /** Shortest cookie key and admin client secret accepted (npm run secrets prints 43 characters). */
    minSecretLength: 32,
  },
  operations: {
    /** Prometheus scrapes this port, never the public issuer's (METRICS_PORT; 0 turns it off). */
    metricsPort: 9464,
    /** pino level of the JSON log lines (LOG_LEVEL). */
    logLevel: 'info',
    /** Every MongoDB operation, server selection included, gives up after this long, so a
     * request fails fast (503) when the database is down or partitioned. */
    databaseTimeoutMs: 750,
    /** What one request may spend waiting on MongoDB in all, however many calls it makes,
     * before it answers 503. A token response that could not leave within this much of the
     * request's start is not sent either (src/oidc/delivery.ts): a retry may then replace it. */
    requestDeadlineMs: 1000,
    /** A request that meets a rotation still in flight looks again this often, until that
     * rotation's answer has left or can no longer leave. */
    deliveryPollMs: 20,
    /** An answer sent just before its deadline is recorded as delivered a moment later: a
     * retry replaces an undelivered token only this long after that deadline. */
    deliveryRecordMs: 500,
    /** /health/ready answers within this (plus a little) whatever the database does. */
    readinessTimeoutMs: 500,
    /** What a 503 tells clients to wait before retrying. */
    retryAfterSeconds: 5,
    /** SIGTERM: in-flight requests get this long to finish before connections are cut. */
    shutdownGraceMs: 10_000,
  },
  /** Sign-in through upstream identity providers (docs/upstream-providers.md). */
  connectors: {
    /** What an OpenID Connect connector asks for unless told otherwise. */
    defaultOidcScopes: 'openid profile email',
    /** Discovery documents and JWKS are re-read at most this often per connector. */
    discoveryCacheMs: 5 * 60 * 1000,
    /** Connectors one server may have (the login page shows every enabled one). */
    max: 50,
    /** Longest username derived from an upstream profile, before a uniqueness suffix. */
    usernameLength: 48,
  },
  /** Created only outside production: the development seed printed at start-up. */
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
