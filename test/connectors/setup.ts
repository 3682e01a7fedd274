import { expect } from 'vitest';

import { adminToken, api, Contract, type ApiResponse } from '../admin/support.js';
import { registerClient, type RegisteredClient } from '../support/relying-party.js';
import { startServer, type TestServer } from '../support/server.js';
import { startOidcUpstream, type OidcUpstream } from './upstreams.js';

export interface OidcSetup {
  server: TestServer;
  upstream: OidcUpstream;
  rp: RegisteredClient;
  contract: Contract;
  connectorId: string;
  call(method: string, path: string, body?: unknown): Promise<ApiResponse>;
  close(): Promise<void>;
}

/** Our server (allowed to reach loopback), an upstream oidc-provider, and a connector "Acme SSO" between them. */
export async function withOidcConnector(env: Record<string, string> = {}): Promise<OidcSetup> {
  const upstream = await startOidcUpstream();
  const server = await startServer({ env: { OUTBOUND_PRIVATE_NETWORKS: 'true', ...env } });
  const token = await adminToken(server.issuer);
  const contract = await Contract.fetch(`${server.issuer}/admin/openapi.json`);
  const call = (method: string, path: string, body?: unknown) => api(server.issuer, token, method, path, body);
  const created = await call('POST', '/connectors', {
    type: 'oidc', name: 'Acme SSO', issuer: upstream.issuer, client_id: upstream.clientId, client_secret: upstream.clientSecret,
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  contract.check('POST', '/connectors', created);
  await upstream.allowRedirect(String(created.body.redirect_uri));
  return {
    server, upstream, contract, call, connectorId: String(created.body.id), rp: await registerClient(server),
    async close() {
      await server.close();
      await upstream.close();
    },
  };
}
