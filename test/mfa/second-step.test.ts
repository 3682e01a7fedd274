import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { appCode, signInThroughSteps } from '../support/two-step.js';
import { MFA_ACR, PASSWORD_ACR } from '../../src/mfa/acr.js';

let server: TestServer;
let app: RegisteredClient;
let strictApp: RegisteredClient;

beforeAll(async () => {
  server = await startServer();
  app = await registerClient(server);
  strictApp = await registerClient(server, { require_mfa: true } as Record<string, unknown>);
});
afterAll(async () => {
  await server?.close();
});

describe('two-step verification at sign-in', () => {
  it('signs in with a password alone where nothing asks for more, and says so in acr/amr', async () => {
    const user = await createUser(server);
    const { tokens, walk } = await signInThroughSteps(app, user, {});
    expect(walk.pages).toEqual(['login', 'consent']);
    expect(tokens!.claims()).toMatchObject({ amr: ['pwd'], acr: PASSWORD_ACR });
  });

  it('enrols an authenticator app inside the sign-in of an app that requires it, then asks for it everywhere', async () => {
    const user = await createUser(server);
    let secret = '';
    let recovery: string[] = [];
    const first = await signInThroughSteps(strictApp, user, {
      enrol: (shown) => { secret = shown; return appCode(shown); },
      recoveryCodes: (codes) => { recovery = codes; },
    });
    expect(first.walk.pages).toEqual(['login', 'enrol', 'recovery-codes', 'consent']);
    expect(recovery).toHaveLength(10);
    expect(first.tokens!.claims()).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: MFA_ACR });

    // Any app now: password, then a code from the app (the next step's: this one was used).
    const second = await signInThroughSteps(app, user, { code: () => appCode(secret, 1) });
    expect(second.walk.pages).toEqual(['login', 'second-step', 'consent']);
    expect(second.tokens!.claims()).toMatchObject({ amr: ['pwd', 'otp', 'mfa'], acr: MFA_ACR });

    // The same code again, in another sign-in: refused (no replay inside its window).
    const replay = await signInThroughSteps(app, user, { code: () => appCode(secret, 1) });
    expect(replay.tokens).toBeUndefined();
    expect(replay.walk.lastPage).toContain('That code is not right');
  });
});
