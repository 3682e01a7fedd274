import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { expect } from 'vitest';

/** The operator's credentials in every test server (development defaults). */
export const ADMIN = { id: 'admin', secret: 'dev-admin-secret-change-me' };

export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** client_credentials at our token endpoint; returns the raw response. */
export async function tokenRequest(issuer: string, id: string, secret: string, params: Record<string, string>): Promise<Response> {
  return fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization: basic(id, secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...params }),
  });
}

export async function adminToken(issuer: string): Promise<string> {
  const res = await tokenRequest(issuer, ADMIN.id, ADMIN.secret, { scope: 'admin' });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** What an operator does before a client may get an API's scopes with client_credentials. */
export async function grantClientScopes(issuer: string, clientId: string, resource: string, scopes: string[]): Promise<void> {
  const res = await api(issuer, await adminToken(issuer), 'PUT', `/clients/${encodeURIComponent(clientId)}/resource-scopes`, { grants: [{ resource, scopes }] });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** A JSON call to the admin API. `raw` sends a body as-is with its own content type. */
export async function api(
  issuer: string, token: string | undefined, method: string, path: string,
  body?: unknown, raw?: { body: string; type: string },
): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  let payload: string | undefined;
  if (raw) {
    headers['content-type'] = raw.type;
    payload = raw.body;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(`${issuer}/admin${path}`, { method, headers, body: payload });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

type OpenApi = { paths: Record<string, Record<string, { responses: Record<string, { content?: { 'application/json'?: { schema?: { $ref?: string } } } }> }>> };

/** Checks real responses against the schemas of the served OpenAPI document. */
export class Contract {
  readonly #doc: OpenApi;
  readonly #ajv = new Ajv2020({ strict: false, allErrors: true });

  /** The document as the server serves it, e.g. `${issuer}/admin/openapi.json`. */
  static async fetch(url: string): Promise<Contract> {
    return new Contract(await (await fetch(url)).json());
  }

  constructor(doc: unknown) {
    this.#doc = doc as OpenApi;
    (addFormatsModule as unknown as (ajv: Ajv2020) => void)(this.#ajv);
    this.#ajv.addSchema(doc as object, 'admin-openapi');
  }

  /** Asserts the response's status is documented for the operation and its body matches. */
  check(method: string, template: string, res: ApiResponse): void {
    const operation = this.#doc.paths[template]?.[method.toLowerCase()];
    expect(operation, `${method} ${template} is documented`).toBeDefined();
    const documented = operation!.responses[String(res.status)];
    expect(documented, `${method} ${template} documents status ${res.status}`).toBeDefined();
    const ref = documented!.content?.['application/json']?.schema?.$ref;
    expect(ref, `${method} ${template} ${res.status} has a schema`).toBeDefined();
    const validate = this.#ajv.getSchema(`admin-openapi${ref}`)!;
    const valid = validate(res.body);
    expect(valid ? [] : validate.errors, `${method} ${template} ${res.status} body matches ${ref}`).toEqual([]);
  }
}

export interface LogoutReceiver {
  url: string;
  received: string[];
  /** Resolves once `count` logout tokens have arrived. */
  waitFor(count: number): Promise<string[]>;
  close(): Promise<void>;
}

/** A relying party's back-channel logout endpoint: a tiny HTTP server on 127.0.0.1. */
export async function logoutReceiver(): Promise<LogoutReceiver> {
  const received: string[] = [];
  const waiters: Array<() => void> = [];
  const server: Server = createHttpServer(async (req, res) => {
    const body = await readBody(req);
    const token = new URLSearchParams(body).get('logout_token');
    if (req.method === 'POST' && req.headers['content-type']?.startsWith('application/x-www-form-urlencoded') && token) {
      received.push(token);
      waiters.forEach((wake) => wake());
      res.writeHead(200).end();
      return;
    }
    res.writeHead(400).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/backchannel`,
    received,
    async waitFor(count) {
      while (received.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
      return received;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
