/** What the example app knows about one browser, and how it shows it. */

export interface ApiAnswer {
  request: string;
  status: number;
  body: unknown;
}

export interface SignedIn {
  sub: string;
  sid: string | undefined;
  idToken: string;
  idTokenClaims: Record<string, unknown>;
  userinfo: Record<string, unknown>;
  accessToken: string;
  refreshToken: string | undefined;
  apiAnswer?: ApiAnswer;
  rotation?: { before: string; after: string };
}

export interface Visitor {
  /** The authorization request in flight: checked on the callback. */
  pending?: { state: string; nonce: string; codeVerifier: string };
  user?: SignedIn;
  /** Set by a back-channel logout. The last access token is kept only so the demo can show
   * that offline verification still accepts it while introspection does not. */
  endedByProvider?: { at: Date; accessToken: string; answers?: ApiAnswer[] };
  /** The `state` of our RP-initiated logout, echoed back when the provider returns the browser. */
  signOutState?: string;
  notice?: string;
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const json = (value: unknown) => `<pre>${escape(JSON.stringify(value, null, 2))}</pre>`;
const button = (action: string, label: string, testId: string, fields = '') =>
  `<form method="post" action="${action}">${fields}<button data-testid="${testId}">${escape(label)}</button></form>`;
const answer = (a: ApiAnswer) =>
  `<div data-testid="api-answer"><p><code>${escape(a.request)}</code> → <strong data-testid="api-status">${a.status}</strong></p>${json(a.body)}</div>`;

export function renderHome(visitor: Visitor, providerName: string): string {
  const notice = visitor.notice ? `<p class="notice" data-testid="notice">${escape(visitor.notice)}</p>` : '';
  const user = visitor.user;
  if (!user) return layout(`${notice}${signedOut(visitor, providerName)}`);
  return layout(`${notice}
    <h2 data-testid="signed-in">Signed in as ${escape(String(user.idTokenClaims.name ?? user.sub))}</h2>
    <h3>ID token claims</h3><div data-testid="id-token-claims">${json(user.idTokenClaims)}</div>
    <h3>Userinfo response</h3><div data-testid="userinfo">${json(user.userinfo)}</div>
    <h3>The example API</h3>
    <div class="row">
      ${button('/call-api', 'GET / (api:read)', 'call-api-read', '<input type="hidden" name="call" value="read">')}
      ${button('/call-api', 'POST / (api:write)', 'call-api-write', '<input type="hidden" name="call" value="write">')}
      ${button('/call-api', 'GET /introspected (asks the provider)', 'call-api-introspected', '<input type="hidden" name="call" value="introspected">')}
    </div>
    ${user.apiAnswer ? answer(user.apiAnswer) : ''}
    <h3>Refresh tokens</h3>
    ${button('/refresh', 'Refresh tokens', 'refresh')}
    ${user.rotation ? `<p data-testid="rotation">refresh token <code data-testid="rt-before">${user.rotation.before}</code> → <code data-testid="rt-after">${user.rotation.after}</code> (SHA-256 fingerprints; the old one no longer works)</p>` : ''}
    <h3>Sign out</h3>
    ${button('/sign-out', 'Sign out', 'sign-out')}`);
}

function signedOut(visitor: Visitor, providerName: string): string {
  const ended = visitor.endedByProvider;
  const revoked = ended ? `
    <h2 data-testid="ended-by-provider">${escape(providerName)} signed you out at ${ended.at.toISOString()} (back-channel logout)</h2>
    <p>The app's session is gone. The last access token (a JWT) is still unexpired: an API that only
    verifies it offline accepts it until it expires, one that asks the provider learns it is revoked.</p>
    ${button('/try-old-token', 'Try the old access token at the API', 'try-old-token')}
    ${(ended.answers ?? []).map(answer).join('')}` : '';
  return `${revoked}
    <p><a class="login" data-testid="login" href="/login">Log in with ${escape(providerName)}</a></p>`;
}

function layout(body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo App</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:760px;margin:2rem auto;padding:0 1rem}
pre{background:#f4f4f4;padding:.6rem;overflow:auto}.row{display:flex;gap:.5rem;flex-wrap:wrap}
.login{display:inline-block;padding:.6rem 1.2rem;background:#2457c5;color:#fff;border-radius:4px;text-decoration:none}
.notice{background:#fff4d6;padding:.5rem}</style></head>
<body><h1>Demo App</h1><p>An example third-party app (examples/web-app) that signs users in with OpenID Connect.</p>${body}</body></html>`;
}
