import { execFile } from 'node:child_process';
import { parseEnv, promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

import { projectRoot } from '../../src/config/paths.js';
import { loadSettings } from '../../src/config/settings.js';

const run = promisify(execFile);

describe('npm run -s secrets', () => {
  it('prints a dotenv file and nothing else: KEY=value lines that production accepts', async () => {
    const { stdout } = await run('npm', ['run', '-s', 'secrets'], { cwd: projectRoot });
    const lines = stdout.trimEnd().split('\n');
    for (const line of lines) expect(line).toMatch(/^[A-Z][A-Z0-9_]*=[\w-]+$/);

    const env = parseEnv(stdout);
    expect(Object.keys(env).sort()).toEqual(['ADMIN_CLIENT_SECRET', 'KEY_ENCRYPTION_KEY', 'MONGO_PASSWORD', 'MONGO_ROOT_PASSWORD']);
    expect(Object.keys(env)).toHaveLength(lines.length);
    const settings = loadSettings({
      ...env, NODE_ENV: 'production', ISSUER: 'https://id.example', MONGODB_URI: 'mongodb://db/oidc', ADMIN_CLIENT_ID: 'admin',
    });
    expect(settings.admin.clientSecret).toBe(env.ADMIN_CLIENT_SECRET);
    expect(Buffer.from(env.KEY_ENCRYPTION_KEY!, 'base64url')).toHaveLength(32);
  });

  it('prints fresh values every time', async () => {
    const [first, second] = await Promise.all([1, 2].map(() => run('npm', ['run', '-s', 'secrets'], { cwd: projectRoot })));
    const a = parseEnv(first!.stdout);
    const b = parseEnv(second!.stdout);
    for (const key of Object.keys(a)) expect(a[key]).not.toBe(b[key]);
    expect(new Set(Object.values(a)).size).toBe(Object.keys(a).length);
  });
});
