import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs `src/main.ts` as npm start does and collects how it ends. */
function start(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(MONGODB_URI|JWKS|COOKIE_KEYS|KEY_|ADMIN_|ISSUER|PORT)/.test(key)));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: repoRoot, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, output }); });
  });
}

describe('startup', () => {
  it('refuses to run in production without a database, keys and secrets, naming them', async () => {
    const { code, output } = await start({ NODE_ENV: 'production' });
    expect(code).toBe(1);
    expect(output).toContain('configuration error: NODE_ENV=production requires MONGODB_URI');
    expect(output).toContain('KEY_ENCRYPTION_KEY');
    expect(output).not.toMatch(/\n\s+at /);
  });

  it('stops with the name of a malformed setting', async () => {
    const { code, output } = await start({ PORT: 'eighty' });
    expect(code).toBe(1);
    expect(output).toContain('configuration error: invalid setting PORT');
  });
});
