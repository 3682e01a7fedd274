import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseEnv, promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

import { projectRoot } from '../../src/config/paths.js';

const run = promisify(execFile);

/** A service as `docker-compose config` resolves it (.env interpolated, anchors merged). */
interface Service {
  image?: string;
  build?: unknown;
  restart?: string;
  profiles?: string[];
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  ports?: (string | { host_ip?: string; published: number; target: number })[];
  volumes?: string[];
  healthcheck?: { test: string[] };
}

// docker-compose (Debian's package; .ci/run installs it) checks the file against the Compose
// schema and resolves it without a Docker engine; PyYAML, which it brings, reads its output.
const python = '/usr/bin/python3';
const missing = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0
  && spawnSync(python, ['-c', 'import yaml'], { stdio: 'ignore' }).status === 0
  ? undefined : 'docker-compose is missing (apt-get install docker-compose)';
if (missing) console.warn(`[compose checks skipped] ${missing}`);

const compose = (envFile: string, ...args: string[]) => run('docker-compose', ['--project-directory', projectRoot, '-f', path.join(projectRoot, 'docker-compose.yml'), '--env-file', envFile, ...args]);

async function resolved(envFile: string): Promise<Record<string, Service>> {
  const { stdout } = await compose(envFile, 'config');
  const json = execFileSync(python, ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: stdout, encoding: 'utf8' });
  return (JSON.parse(json) as { services: Record<string, Service> }).services;
}

/** The services `docker compose up` starts without naming a profile, or with `--profile name`. */
const started = (services: Record<string, Service>, profile?: string) => Object.keys(services)
  .filter((name) => services[name]!.profiles === undefined || (profile !== undefined && services[name]!.profiles!.includes(profile))).sort();

const publishedOn = (service: Service) => (service.ports ?? []).map((port) => (typeof port === 'string' ? port.split(':')[0] : port.host_ip));

describe.skipIf(missing !== undefined)('docker-compose.yml with the .env of npm run -s secrets', () => {
  let env: Record<string, string | undefined>;
  let envFile: string;
  let services: Record<string, Service>;

  beforeAll(async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'oidc-compose-'));
    envFile = path.join(dir, '.env');
    const { stdout } = await run('npm', ['run', '-s', 'secrets'], { cwd: projectRoot });
    await writeFile(envFile, stdout);
    env = parseEnv(stdout);
    services = await resolved(envFile);
  });

  it('is valid and runs MongoDB and the provider, restarting them unless stopped', () => {
    expect(started(services)).toEqual(['mongo', 'oidc']);
    for (const service of Object.values(services)) expect(service.restart).toBe('unless-stopped');
  });

  it('refuses to start without the secrets, naming the missing one', async () => {
    const empty = path.join(path.dirname(envFile), 'empty.env');
    await writeFile(empty, '');
    await expect(compose(empty, 'config')).rejects.toMatchObject({ stderr: expect.stringMatching(/set (MONGO_PASSWORD|KEY_ENCRYPTION_KEY|ADMIN_CLIENT_SECRET|MONGO_ROOT_PASSWORD)/) });
  });

  it('reports MongoDB healthy only once it has a writable primary, and starts the provider after that', () => {
    const check = services.mongo!.healthcheck!.test.join(' ');
    expect(check).toContain('rs.initiate(');
    expect(check).toMatch(/quit\(db\.hello\(\)\.isWritablePrimary \? 0 : 1\)/);
    // No mongosh here: at least the script it runs must be JavaScript (rs, db and quit are its globals).
    const script = /--eval "([^"]+)"$/.exec(check)![1]!;
    expect(() => new Function('rs', 'db', 'quit', script)).not.toThrow();
    expect(services.oidc!.depends_on).toEqual({ mongo: { condition: 'service_healthy' } });
  });

  it('runs MongoDB with a root user and a replica-set key file, and the provider with its own credentials', () => {
    const mongo = services.mongo!;
    expect(mongo.environment).toMatchObject({ MONGO_INITDB_ROOT_PASSWORD: env.MONGO_ROOT_PASSWORD, MONGO_PROVIDER_PASSWORD: env.MONGO_PASSWORD });
    const keyFile = mongo.command![mongo.command!.indexOf('--keyFile') + 1]!;
    expect(mongo.command).toContain('--replSet');
    expect(mongo.entrypoint!.join(' ')).toContain(keyFile);
    expect(mongo.entrypoint!.join(' ')).toMatch(/chmod 400/);
    const [shell, flag, entrypoint] = mongo.entrypoint!;
    expect(spawnSync(shell!, ['-n', flag!, entrypoint!.replaceAll('$$', '$')]).status).toBe(0);

    const uri = new URL(services.oidc!.environment!.MONGODB_URI!);
    expect(uri.username).toBe(mongo.environment!.MONGO_PROVIDER_USERNAME);
    expect(uri.password).toBe(env.MONGO_PASSWORD);
    expect(uri.searchParams.get('replicaSet')).toBe(mongo.command![mongo.command!.indexOf('--replSet') + 1]);
    expect(uri.searchParams.get('authSource')).toBe(uri.pathname.slice(1));
    expect(services.oidc!.environment).toMatchObject({
      NODE_ENV: 'production', KEY_ENCRYPTION_KEY: env.KEY_ENCRYPTION_KEY, ADMIN_CLIENT_SECRET: env.ADMIN_CLIENT_SECRET,
    });
  });

  it('creates the provider user from the init script the compose file mounts, for the database it connects to', async () => {
    const mount = services.mongo!.volumes!.find((volume) => volume.includes('/docker-entrypoint-initdb.d'))!;
    const script = await readFile(path.join(mount.split(':')[0]!, 'provider-user.js'), 'utf8');
    expect(() => new Function('db', 'process', script)).not.toThrow();
    expect(script).toContain('process.env.MONGO_PROVIDER_USERNAME');
    expect(script).toContain('process.env.MONGO_PROVIDER_PASSWORD');
    expect(script).toContain(`getSiblingDB('${new URL(services.oidc!.environment!.MONGODB_URI!).pathname.slice(1)}')`);
  });

  it('publishes ports on the host loopback only (production refuses a plain-http issuer elsewhere)', () => {
    for (const service of Object.values(services)) for (const address of publishedOn(service)) expect(address).toBe('127.0.0.1');
  });

  it('with --profile scale, runs two provider instances alike behind a proxy that spreads requests over both', async () => {
    const scaled = services;
    expect(started(scaled, 'scale')).toEqual(['mongo', 'oidc', 'oidc-2', 'proxy']);
    expect(scaled['oidc-2']!.environment).toEqual(scaled.oidc!.environment);
    expect(scaled['oidc-2']!.depends_on).toEqual(scaled.oidc!.depends_on);
    expect(Object.keys(scaled.proxy!.depends_on!).sort()).toEqual(['oidc', 'oidc-2']);
    for (const service of Object.values(scaled)) {
      expect(service.restart).toBe('unless-stopped');
      for (const address of publishedOn(service)) expect(address).toBe('127.0.0.1');
    }
    const config = scaled.proxy!.volumes!.find((volume) => volume.includes('/etc/nginx/'))!.split(':')[0]!;
    const upstream = [...(await readFile(config, 'utf8')).matchAll(/^\s*server ([\w-]+):(\d+);/gm)].map(([, host, port]) => `${host}:${port}`);
    expect(upstream).toEqual(['oidc:3000', 'oidc-2:3000']);
    expect(scaled.oidc!.environment!.PORT).toBe('3000');
  });
});

describe('the Dockerfile', () => {
  it('copies what the build reads and runs what the build writes', async () => {
    const dockerfile = await readFile(path.join(projectRoot, 'Dockerfile'), 'utf8');
    for (const [, sources] of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of sources!.split(' ')) expect(spawnSync('test', ['-e', path.join(projectRoot, source)]).status, source).toBe(0);
    }
    const tsconfig = JSON.parse(await readFile(path.join(projectRoot, 'tsconfig.json'), 'utf8')) as { compilerOptions: { outDir: string } };
    const cmd = JSON.parse(/^CMD (.+)$/m.exec(dockerfile)![1]!) as string[];
    expect(cmd.at(-1)).toBe(`${path.normalize(tsconfig.compilerOptions.outDir)}/src/main.js`);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\/health\/ready/ms);
  });
});
