import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isProviderPath } from '../../src/oidc/routes.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * Our routers are skipped on oidc-provider's paths (the token endpoint is the hot path);
 * these pin down which paths are the provider's, so none of ours is skipped by mistake.
 */
describe('provider paths', () => {
  let server: TestServer;
  let discovery: Record<string, unknown>;

  beforeAll(async () => {
    server = await startServer();
    discovery = await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
  });
  afterAll(async () => server.close());

  it('every endpoint the provider advertises in discovery is one of its paths', () => {
    const endpoints = Object.entries(discovery)
      .filter(([key, value]) => (key.endsWith('_endpoint') || key === 'jwks_uri') && typeof value === 'string')
      .map(([, value]) => new URL(value as string).pathname);
    expect(endpoints.length).toBeGreaterThanOrEqual(6);
    for (const path of endpoints) expect(isProviderPath(path), path).toBe(true);
  });

  it('the resume path of an authorization and discovery are the provider\'s', () => {
    expect(isProviderPath('/auth/some-uid')).toBe(true);
    expect(isProviderPath('/.well-known/openid-configuration')).toBe(true);
  });

  it('our pages and APIs are not, even where a name starts like one of the provider\'s', () => {
    for (const path of ['/', '/interaction/uid/login', '/account', '/account/api/grants', '/admin/users', '/health/ready',
      '/assets/style.css', '/verify-email', '/password/forgot', '/tokens', '/authorize-later', '/me2']) {
      expect(isProviderPath(path), path).toBe(false);
    }
  });

  it('our routes still answer with the provider skipped for its own paths', async () => {
    expect((await fetch(`${server.issuer}/health/ready`)).status).toBe(200);
    expect((await fetch(`${server.issuer}/admin/users`)).status).toBe(401);
  });
});
