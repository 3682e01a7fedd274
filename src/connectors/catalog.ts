import { randomBytes } from 'node:crypto';

import { defaults } from '../../config/defaults.js';
import type { KeySealer } from '../keys/sealing.js';
import type { ClaimPaths, ConnectorCollections, ConnectorRecord } from './records.js';
import type { UpstreamClient, Upstreams } from './upstream.js';

interface CommonInput {
  name: string;
  logo_uri?: string;
  enabled: boolean;
  client_id: string;
  client_secret: string;
  scopes: string;
}

/** A connector as an operator describes it (validated at the admin API's edge). */
export type ConnectorInput = CommonInput & (
  | { type: 'oidc'; issuer: string }
  | { type: 'oauth2'; authorization_endpoint: string; token_endpoint: string; userinfo_endpoint: string; claims: ClaimPaths }
);

/** A connector the server refuses, naming the field to change. */
export class ConnectorInputError extends Error {
  readonly field: string;

  constructor(field: string, message: string) {
    super(message);
    this.name = 'ConnectorInputError';
    this.field = field;
  }
}

const URL_FIELDS = ['issuer', 'authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'logo_uri'] as const;

/** The upstream providers users may sign in through; client secrets sealed under KEY_ENCRYPTION_KEY. */
export class ConnectorCatalog {
  readonly #collections: ConnectorCollections;
  readonly #sealer: KeySealer;
  readonly #upstreams: Upstreams;
  readonly #production: boolean;

  constructor(collections: ConnectorCollections, sealer: KeySealer, upstreams: Upstreams, production: boolean) {
    this.#collections = collections;
    this.#sealer = sealer;
    this.#upstreams = upstreams;
    this.#production = production;
  }

  get collections(): ConnectorCollections {
    return this.#collections;
  }

  async find(id: string): Promise<ConnectorRecord | undefined> {
    return (await this.#collections.connectors.findOne({ _id: { $eq: id } })) ?? undefined;
  }

  list(): Promise<ConnectorRecord[]> {
    return this.#collections.connectors.find({}).sort({ name: 1, _id: 1 }).limit(defaults.connectors.max).toArray();
  }

  async enabled(): Promise<ConnectorRecord[]> {
    return (await this.list()).filter((connector) => connector.enabled);
  }

  async create(input: ConnectorInput): Promise<ConnectorRecord> {
    if (await this.#collections.connectors.countDocuments({}) >= defaults.connectors.max) {
      throw new ConnectorInputError('body', `at most ${defaults.connectors.max} connectors`);
    }
    const now = new Date();
    const record = await this.#record(randomBytes(9).toString('base64url'), input, now, now);
    await this.#collections.connectors.insertOne(record);
    return record;
  }

  /** Replaces the connector's settings; a missing secret keeps the stored one. */
  async update(current: ConnectorRecord, input: Omit<ConnectorInput, 'client_secret'> & { client_secret?: string }): Promise<ConnectorRecord | undefined> {
    const secret = input.client_secret ?? (await this.client(current)).secret;
    const record = await this.#record(current._id, { ...input, client_secret: secret } as ConnectorInput, current.created_at, new Date());
    const { _id, ...fields } = record;
    const update = fields.logo_uri === undefined ? { $set: fields, $unset: { logo_uri: '' as const } } : { $set: fields };
    return (await this.#collections.connectors.findOneAndUpdate({ _id }, update, { returnDocument: 'after' })) ?? undefined;
  }

  /** Deletes the connector and the identities linked through it; their accounts stay. */
  async delete(id: string): Promise<number | undefined> {
    const { deletedCount } = await this.#collections.connectors.deleteOne({ _id: { $eq: id } });
    if (deletedCount === 0) return undefined;
    return (await this.#collections.identities.deleteMany({ connector_id: id })).deletedCount;
  }

  async client(connector: ConnectorRecord): Promise<UpstreamClient> {
    const jwk = await this.#sealer.unseal(sealedKid(connector._id), connector.sealed_secret);
    return { connector, secret: Buffer.from(String(jwk.k), 'base64url').toString('utf8') };
  }

  async #record(id: string, input: ConnectorInput, createdAt: Date, updatedAt: Date): Promise<ConnectorRecord> {
    for (const field of URL_FIELDS) {
      const value = (input as Partial<Record<(typeof URL_FIELDS)[number], string>>)[field];
      if (value !== undefined) this.#checkUrl(field, value);
    }
    const { client_secret: secret, ...rest } = input;
    const sealed_secret = await this.#sealer.seal(sealedKid(id), { kty: 'oct', k: Buffer.from(secret, 'utf8').toString('base64url') });
    const record = { ...rest, _id: id, sealed_secret, created_at: createdAt, updated_at: updatedAt } as ConnectorRecord;
    try {
      await this.#upstreams.check({ connector: record, secret });
    } catch (err) {
      throw new ConnectorInputError('issuer', `discovery failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    return record;
  }

  #checkUrl(field: string, value: string): void {
    const url = URL.parse(value);
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw new ConnectorInputError(field, 'must be an absolute http(s) URL');
    if (this.#production && url.protocol !== 'https:') throw new ConnectorInputError(field, 'must be https in production');
  }
}

/** Binds a sealed secret to its connector: one record's ciphertext cannot be pasted into another. */
function sealedKid(connectorId: string): string {
  return `connector:${connectorId}`;
}
