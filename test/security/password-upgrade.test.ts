import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { hashPassword } from '../../src/security/password.js';
import { legacyScryptHash } from '../support/legacy-password.js';
import { nextAddress, openLoginForm } from '../support/login-form.js';
import { codeFlow, createUser, registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, TEST_ENV, type TestServer } from '../support/server.js';

let server: TestServer;
let rp: RegisteredClient;
const current = `$argon2id$v=19$m=${TEST_ENV.PASSWORD_ARGON2_MEMORY_KIB},t=${TEST_ENV.PASSWORD_ARGON2_ITERATIONS},p=1$`;

beforeAll(async () => {
  server = await startServer({ env: { TRUST_PROXY: 'true' } });
  rp = await registerClient(server);
});

afterAll(async () => {
  await server?.close();
});

/** Replaces the stored hash behind the server's back, as an account from before the change. */
async function storeHash(sub: string, passwordHash: string): Promise<void> {
  await server.accounts.model.collection.updateOne({ _id: sub as never }, { $set: { passwordHash } });
}

const storedHash = async (sub: string) => (await server.accounts.model.findById(sub).lean())!.passwordHash;

describe('password hash upgrade at sign-in', () => {
  it('signs in a user whose password was hashed with scrypt and stores argon2id instead', async () => {
    const user = await createUser(server);
    await storeHash(user.sub, legacyScryptHash(user.password));

    const wrong = await (await openLoginForm(server.issuer, rp, nextAddress())).submit(user.username, 'not it');
    expect(wrong.status).toBe(401);
    expect(await storedHash(user.sub)).toMatch(/^scrypt\$/);

    const { tokens } = await codeFlow(rp, { login: user });
    expect(tokens.claims()!.sub).toBe(user.sub);
    const upgraded = await storedHash(user.sub);
    expect(upgraded.startsWith(current)).toBe(true);

    // The new hash works, and is not redone at the next sign-in.
    await codeFlow(rp, { login: user });
    expect(await storedHash(user.sub)).toBe(upgraded);
  });

  it('upgrades an argon2id hash made with a lower cost than the current one', async () => {
    const user = await createUser(server);
    await storeHash(user.sub, await hashPassword(user.password, { memoryKiB: 64, iterations: 1, parallelism: 1 }));
    await codeFlow(rp, { login: user });
    expect((await storedHash(user.sub)).startsWith(current)).toBe(true);
  });

  it('costs one password check for an unknown username, like a wrong password', async () => {
    const user = await createUser(server);
    const { submit } = await openLoginForm(server.issuer, rp, nextAddress());
    const before = server.accounts.passwordChecks.started;
    expect((await submit(`${user.username}-nobody`, 'whatever')).status).toBe(401);
    expect(server.accounts.passwordChecks.started - before).toBe(1);
    expect((await submit(user.username, 'whatever')).status).toBe(401);
    expect(server.accounts.passwordChecks.started - before).toBe(2);
  });
});
