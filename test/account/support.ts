import * as client from 'openid-client';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

import type { RegisteredClient } from '../support/relying-party.js';

export interface Person {
  username: string;
  password: string;
}

/** Fills our login form if it is showing. */
export async function signInIfAsked(page: Page, person: Person): Promise<void> {
  if (await page.locator('input[name="password"]').count() === 0) return;
  await page.locator('input[name="login"]').fill(person.username);
  await page.locator('input[name="password"]').fill(person.password);
  await page.getByTestId('login-submit').click();
}

/**
 * An app's sign-in in the browser: login if asked, consent, back at the app's callback,
 * then the app redeems the code (openid-client). offline_access: the app gets a refresh token.
 */
export async function connectApp(page: Page, rp: RegisteredClient, person: Person, extra: Record<string, string> = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(rp.config, {
    redirect_uri: rp.redirectUri, scope: 'openid profile offline_access', prompt: 'consent', state, nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
  });
  await page.goto(url.href);
  await signInIfAsked(page, person);
  const approve = page.getByTestId('approve');
  await Promise.race([
    approve.waitFor().then(() => approve.click()),
    page.waitForURL((u) => u.href.startsWith(rp.redirectUri)),
  ]);
  await page.waitForURL((u) => u.href.startsWith(rp.redirectUri));
  return client.authorizationCodeGrant(rp.config, new URL(page.url()), {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  });
}

/** Opens the account center, signing in there if the provider asks. */
export async function openAccount(page: Page, issuer: string, person: Person): Promise<void> {
  await page.goto(`${issuer}/account`);
  await signInIfAsked(page, person);
  await page.waitForURL(`${issuer}/account`);
  await expect.poll(() => page.getByTestId('username').innerText()).toBe(person.username);
}

/** Whether the refresh token still works at our token endpoint. */
export async function refreshWorks(rp: RegisteredClient, refreshToken: string): Promise<boolean> {
  try {
    await client.refreshTokenGrant(rp.config, refreshToken);
    return true;
  } catch (err) {
    expect((err as { error?: string }).error).toBe('invalid_grant');
    return false;
  }
}
