/**
 * `npm run demo`: the provider (as `npm start` runs it, with its embedded MongoDB), the
 * example app and the example API, as child processes of this one. Ctrl-C stops all three.
 * Ports and URLs come from the provider's settings: PORT/ISSUER, DEMO_APP_URL, DEMO_API_URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { defaults } from '../config/defaults.js';
import { loadSettings, SettingsError } from '../src/config/settings.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const STOP_TIMEOUT_MS = 5_000;
const { demoClient, demoUser, demo } = defaults.development;

const children: ChildProcess[] = [];

/** Starts `node --import tsx <script>` with `env`, prefixes its output, resolves when it prints `ready`. */
async function run(name: string, script: string, env: Record<string, string>, ready: RegExp): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  child.once('exit', (code, signal) => {
    if (stopping) return;
    console.error(`[${name}] exited (${signal ?? `code ${code}`}); stopping the demo`);
    void stop(1);
  });
  await new Promise<void>((resolve) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      let partial = '';
      stream.setEncoding('utf8').on('data', (chunk: string) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        for (const line of lines) {
          console.log(`[${name}] ${line}`);
          if (ready.test(line)) resolve();
        }
      });
    }
  });
}

let stopping = false;
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(children.map(async (child) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const escalate = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(escalate);
  }));
  process.exit(code);
}
process.once('SIGINT', () => void stop(0));
process.once('SIGTERM', () => void stop(0));

async function main(): Promise<void> {
  const settings = loadSettings();
  if (settings.production) throw new SettingsError('npm run demo is for development; it seeds a demo user and app');

  // The example app's back-channel logout endpoint is on loopback, which oidc-provider's
  // outbound requests refuse unless the operator allows private networks.
  await run('provider', 'src/main.ts', { OUTBOUND_PRIVATE_NETWORKS: 'true' }, /^\s*try it:/);
  const shared = { ISSUER: settings.issuer, API_AUDIENCE: settings.apiAudience, API_URL: settings.demo.apiUrl };
  await Promise.all([
    run('api', 'examples/resource-server/api.ts', {
      ...shared,
      // Until the API has its own client registered as a resource server, it borrows the app's.
      INTROSPECTION_CLIENT_ID: demoClient.client_id, INTROSPECTION_CLIENT_SECRET: demoClient.client_secret,
    }, /listening/),
    run('app', 'examples/web-app/app.ts', {
      ...shared, APP_URL: settings.demo.appUrl, PROVIDER_NAME: demo.providerName,
      CLIENT_ID: demoClient.client_id, CLIENT_SECRET: demoClient.client_secret,
    }, /listening/),
  ]);
  console.log(`\nDemo ready: open ${settings.demo.appUrl} and log in as ${demoUser.username} / ${demoUser.password} (Ctrl-C stops everything)`);
}

main().catch((err: unknown) => {
  console.error(err instanceof SettingsError ? `configuration error: ${err.message}` : err);
  void stop(1);
});
