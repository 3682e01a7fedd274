import type { RegisteredClient } from './relying-party.js';
import { UserAgent } from './user-agent.js';

export interface LoginAnswer {
  status: number;
  html: string;
  retryAfter: string | null;
  /** Where a successful sign-in redirects (303), else null. */
  location: string | null;
}

export interface LoginForm {
  agent: UserAgent;
  uid: string;
  /** Posts the form once; may be called many times at once (one interaction, many guesses). */
  submit(login: string, password: string): Promise<LoginAnswer>;
}

/** Opens the login page of a fresh authorization request, as a browser on `ip` (sent as
 * X-Forwarded-For, which the server honours only with TRUST_PROXY). */
export async function openLoginForm(issuer: string, rp: RegisteredClient, ip?: string): Promise<LoginForm> {
  const agent = new UserAgent(ip ? { 'x-forwarded-for': ip } : {});
  const url = new URL('/auth', issuer);
  url.search = new URLSearchParams({
    client_id: rp.clientId, response_type: 'code', scope: 'openid', redirect_uri: rp.redirectUri,
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
  }).toString();
  const { res } = await agent.follow(url, rp.redirectUri);
  const uid = /\/interaction\/([\w-]+)\/login/.exec(await res.text())![1]!;
  return {
    agent,
    uid,
    async submit(login, password) {
      const res = await agent.request(new URL(`/interaction/${uid}/login`, issuer), { form: { login, password } });
      return { status: res.status, html: await res.text(), retryAfter: res.headers.get('retry-after'), location: res.headers.get('location') };
    },
  };
}

let addressCounter = 0;

/** A distinct client address per call, so tests do not share a network's counters. */
export function nextAddress(): string {
  addressCounter += 1;
  return `10.${(addressCounter >> 16) & 255}.${(addressCounter >> 8) & 255}.${addressCounter & 255}`;
}
