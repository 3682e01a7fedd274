import * as client from 'openid-client';
import { TOTP, Secret } from 'otpauth';

import type { Credentials, RegisteredClient } from './relying-party.js';
import { UserAgent } from './user-agent.js';

/** A code from an authenticator app holding `secret` (base32, spaces allowed), as the app
 * computes it: otpauth's own TOTP, never the server's code. `offsetSteps` picks a later step. */
export function appCode(secret: string, offsetSteps = 0): string {
  const totp = new TOTP({ secret: Secret.fromBase32(secret.replace(/\s/g, '')), algorithm: 'SHA1', digits: 6, period: 30 });
  return totp.generate({ timestamp: Date.now() + offsetSteps * 30_000 });
}

/** What the person does at each second-step page. */
export interface SecondStepAnswers {
  /** The code to type on the second-step page (`recovery` when the page asks for a recovery code). */
  code?: () => string;
  recoveryCode?: string;
  /** At enrolment: the secret the page shows; returns the code the app then shows. */
  enrol?: (secret: string) => string;
  /** The recovery codes shown after enrolment. */
  recoveryCodes?: (codes: string[]) => void;
}

export interface WalkResult {
  callbackUrl: string;
  /** Every page the walk saw, by kind, in order. */
  pages: string[];
  agent: UserAgent;
  lastPage?: string;
}

/**
 * Walks an authorization request through login, second step (verify or enrolment), an
 * interstitial (recovery codes, "codes left") and consent, as a person with a browser
 * would, until the browser is sent back to the client or a page offers no way on.
 */
export async function walkSignIn(
  url: URL | string, redirectUri: string, login: Credentials | undefined, answers: SecondStepAnswers, agent = new UserAgent(),
): Promise<WalkResult> {
  const pages: string[] = [];
  let step = await agent.follow(url, redirectUri);
  for (let i = 0; i < 8 && !step.url.startsWith(redirectUri); i += 1) {
    const html = await step.res.text();
    const origin = new URL(step.url).origin;
    const uid = /\/interaction\/([\w-]+)\//.exec(html)?.[1];
    const continueLink = /href="([^"]+)" data-testid="(continue|notice-link)"/.exec(html)?.[1];
    // A refused code or password: the person reads the message; the walk ends here.
    if (/data-testid="(second-step-error|enrol-error)"|id="login-error"/.test(html)) {
      return { callbackUrl: '', pages: [...pages, `refused:${step.res.status}`], agent, lastPage: html };
    }
    if (html.includes('name="password"') && uid) {
      pages.push('login');
      step = await agent.submit(`${origin}/interaction/${uid}/login`, redirectUri, { login: login!.username, password: login!.password });
    } else if (html.includes('data-testid="totp-secret"') && uid) {
      pages.push('enrol');
      const secret = /data-testid="totp-secret">([^<]+)</.exec(html)![1]!;
      step = await agent.submit(`${origin}/interaction/${uid}/enrol`, redirectUri, { code: answers.enrol!(secret) });
    } else if (html.includes('name="recovery_code"') && uid) {
      pages.push('recovery-code');
      step = await agent.submit(`${origin}/interaction/${uid}/second-step`, redirectUri, { recovery_code: answers.recoveryCode! });
    } else if (html.includes('name="code"') && uid && answers.recoveryCode && !answers.code) {
      pages.push('second-step');
      step = await agent.follow(`${origin}/interaction/${uid}/second-step?method=recovery`, redirectUri);
    } else if (html.includes('name="code"') && uid) {
      pages.push('second-step');
      step = await agent.submit(`${origin}/interaction/${uid}/second-step`, redirectUri, { code: answers.code!() });
    } else if (continueLink) {
      pages.push(html.includes('data-testid="recovery-codes"') ? 'recovery-codes' : 'notice');
      if (html.includes('data-testid="recovery-codes"')) answers.recoveryCodes?.([...html.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1]!));
      step = await agent.follow(new URL(continueLink.replace(/&amp;/g, '&'), origin), redirectUri);
    } else if (uid && html.includes('data-testid="approve"')) {
      pages.push('consent');
      step = await agent.submit(`${origin}/interaction/${uid}/confirm`, redirectUri, {});
    } else {
      return { callbackUrl: '', pages: [...pages, `stuck:${step.res.status}`], agent, lastPage: html };
    }
  }
  if (!step.url.startsWith(redirectUri)) return { callbackUrl: '', pages: [...pages, 'too-many-pages'], agent, lastPage: await step.res.text() };
  return { callbackUrl: step.url, pages, agent };
}

/** An authorization request of `rp` (PKCE, nonce), walked, then the code exchanged. */
export async function signInThroughSteps(
  rp: RegisteredClient, login: Credentials | undefined, answers: SecondStepAnswers, params: Record<string, string> = {}, agent?: UserAgent,
) {
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(rp.config, {
    redirect_uri: rp.redirectUri, scope: 'openid', nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...params,
  });
  const walk = await walkSignIn(url, rp.redirectUri, login, answers, agent);
  if (!walk.callbackUrl) return { walk, tokens: undefined };
  const tokens = await client.authorizationCodeGrant(rp.config, new URL(walk.callbackUrl), { pkceCodeVerifier: verifier, expectedNonce: nonce, idTokenExpected: true });
  return { walk, tokens };
}
