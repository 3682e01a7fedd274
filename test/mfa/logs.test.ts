import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Connection } from 'mongoose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadSettings } from '../../src/config/settings.js';
import { connectDatabase } from '../../src/db/connection.js';
import { accountModel } from '../../src/db/models/account.js';
import { Accounts } from '../../src/oidc/accounts.js';
import { ArtifactStore } from '../../src/oidc/store.js';
import { SEEDED, startServerProcess, type ServerProcess } from '../support/process.js';
import { createUser, registerClient } from '../support/relying-party.js';
import { freePort, freshDatabaseUri, TEST_ENV } from '../support/server.js';
import { appCode, signInThroughSteps } from '../support/two-step.js';

let server: ServerProcess;
let connection: Connection;

beforeAll(async () => {
  const port = await freePort();
  const database = freshDatabaseUri('mfa_logs');
  server = await startServerProcess({
    env: { PORT: String(port), MONGODB_URI: database, DATA_DIR: await mkdtemp(path.join(tmpdir(), 'oidc-mfa-logs-')), LOG_LEVEL: 'debug' },
    ready: SEEDED,
  });
  connection = await connectDatabase(database);
});
afterAll(async () => {
  await server?.stop();
  await connection?.close();
});

describe('two-step verification in the logs', () => {
  it('never writes a secret, a code or a recovery code to a log line', async () => {
    const store = new ArtifactStore(connection);
    const strict = await registerClient({ store, issuer: server.issuer }, { require_mfa: true } as Record<string, unknown>);
    const user = await createUser({ accounts: new Accounts(accountModel(connection), loadSettings(TEST_ENV).password) });
    const typed = new Set<string>();
    let secret = '';
    let recovery: string[] = [];
    const enrolled = await signInThroughSteps(strict, user, {
      enrol: (shown) => { secret = shown.replace(/\s/g, ''); const code = appCode(shown); typed.add(code); return code; },
      recoveryCodes: (codes) => { recovery = codes; },
    });
    expect(enrolled.tokens).toBeDefined();
    const wrong = appCode(secret, 7);
    typed.add(wrong);
    expect((await signInThroughSteps(strict, user, { code: () => wrong })).tokens).toBeUndefined();
    expect((await signInThroughSteps(strict, user, { recoveryCode: recovery[0]! })).tokens).toBeDefined();

    await server.stop(); // flushes the buffered log lines
    const output = server.output();
    expect(output).toContain('mfa.failed');
    for (const value of [secret, secret.slice(0, 16), ...typed, ...recovery, ...recovery.map((c) => c.replace(/-/g, ''))]) {
      expect(output, 'a log line holds a second-step secret or code').not.toContain(value);
    }
  });
});
