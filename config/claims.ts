/** Scopes we understand and the ID token / userinfo claims each one releases. */
export const claimsByScope = {
  // `idp`: the upstream provider of a sign-in through a connector (src/connectors/).
  openid: ['sub', 'idp'],
  profile: ['preferred_username', 'name'],
  email: ['email', 'email_verified'],
} as const;

/** The OpenID Connect scopes this server knows; every other scope belongs to an API. */
export const OIDC_SCOPES: ReadonlySet<string> = new Set(['openid', 'offline_access', ...Object.keys(claimsByScope)]);

/** Human text shown on the consent page. */
export const scopeDescriptions: Record<string, string> = {
  openid: 'Know who you are (your account identifier)',
  profile: 'See your name and username',
  email: 'See your email address',
  offline_access: 'Stay signed in to this app (keep access while you are away)',
  'api:read': 'Read data from the API on your behalf',
  'api:write': 'Change data through the API on your behalf',
};

/** The scope our own admin API requires; only client_credentials tokens carry it. */
export const adminScope = 'admin';
