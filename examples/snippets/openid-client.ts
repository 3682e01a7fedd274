import * as client from 'openid-client';

export async function connect(issuer: string, clientId: string, clientSecret: string) {
  // allowInsecureRequests only because a development issuer is plain http.
  const options = issuer.startsWith('http:') ? { execute: [client.allowInsecureRequests] } : undefined;
  return client.discovery(new URL(issuer), clientId, clientSecret, undefined, options);
}

/** Where to send the user; keep `checks` in the user's session until the callback. */
export async function startSignIn(config: client.Configuration, redirectUri: string, apiAudience: string) {
  const checks = { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: client.randomState(), expectedNonce: client.randomNonce() };
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email offline_access api:read',
    prompt: 'consent', // offline_access (a refresh token) needs it
    resource: apiAudience, // the access token becomes a JWT for this API
    state: checks.expectedState,
    nonce: checks.expectedNonce,
    code_challenge: await client.calculatePKCECodeChallenge(checks.pkceCodeVerifier),
    code_challenge_method: 'S256',
  });
  return { url, checks };
}

/** On the callback: the tokens, with the ID token already verified (tokens.claims()). */
export async function finishSignIn(config: client.Configuration, callbackUrl: URL, checks: client.AuthorizationCodeGrantChecks) {
  return client.authorizationCodeGrant(config, callbackUrl, { ...checks, idTokenExpected: true });
}

/** Rotates: the answer holds a new refresh token, and the one presented never works again. */
export async function refresh(config: client.Configuration, refreshToken: string) {
  return client.refreshTokenGrant(config, refreshToken);
}

/** Userinfo takes its own access token: a refresh narrowed to OpenID scopes returns one. */
export async function userinfo(config: client.Configuration, refreshToken: string, sub: string) {
  const tokens = await client.refreshTokenGrant(config, refreshToken, { scope: 'openid profile email' });
  return { userinfo: await client.fetchUserInfo(config, tokens.access_token, sub), refreshToken: tokens.refresh_token! };
}
