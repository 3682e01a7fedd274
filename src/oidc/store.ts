import type { Collection, Connection } from 'mongoose';

import { artifactIndexes } from './artifact-indexes.js';
import { RefreshChain } from './refresh-chain.js';

/** One stored oidc-provider artifact. The payload is kept as JSON text because it holds
 * client-chosen keys (claims requests, resource URLs with dots) that MongoDB field names
 * cannot always carry; the fields we query by are lifted out and indexed. */
export interface ArtifactDoc {
  _id: string;
  payload: string;
  expiresAt?: Date;
  consumedAt?: Date;
  grantId?: string;
  uid?: string;
  userCode?: string;
  accountId?: string;
  clientId?: string;
  sessionUid?: string;
  /** The payload's `iat`: what a grant's last use is read by (src/oidc/grant-history.ts). */
  issuedAt?: Date;
  /** RefreshToken only: how many rotations precede this token in its family. */
  rotations?: number;
  /** RefreshToken only: the token (or, for a family's first token, the authorization code)
   * this one was rotated from. Unique: it is the parent's successor slot (src/oidc/refresh-chain.ts). */
  parentId?: string;
  /** RefreshToken and AuthorizationCode: issued (or exchanged) by an answer not yet known to
   * have left; the time by which it must have left (src/oidc/delivery.ts). */
  undelivered?: Date;
  /** RefreshToken only: a placeholder in `parentId`'s slot, so that token is never rotated again. */
  fence?: true;
  /** RefreshToken only: replaced a successor that had been delivered, within the grace period;
   * its parent may not be retried again. */
  graceRetry?: true;
  /** RefreshToken only: taken out of its parent's slot by a retry of the parent; whoever
   * presents it later is the second holder, and that is reuse. */
  supersededAt?: Date;
  /** Session only: signed out by its user; the record stays as a tombstone until it expires. */
  endedAt?: Date;
  /** DeviceCode only: when the device last polled the token endpoint with it. */
  polledAt?: Date;
}

/** The parts of oidc-provider's stored payloads that revocation and the admin API read. */
export interface SessionPayload {
  jti: string;
  uid: string;
  accountId?: string;
  loginTs?: number;
  exp?: number;
  amr?: string[];
  acr?: string;
  authorizations?: Record<string, { sid?: string; grantId?: string }>;
}

export interface GrantPayload {
  jti: string;
  accountId: string;
  clientId: string;
  iat: number;
  exp?: number;
  openid?: { scope?: string };
  resources?: Record<string, string>;
}

export function parsePayload<T>(doc: { payload: string }): T {
  return JSON.parse(doc.payload) as T;
}

export const LOOKUP_FIELDS = ['grantId', 'uid', 'userCode', 'accountId', 'clientId', 'sessionUid'] as const;

/** Models whose artifacts hang off a grant: revoking the grant deletes them all. */
export const GRANT_BOUND_MODELS = [
  'AccessToken',
  'RefreshToken',
  'AuthorizationCode',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
] as const;

/** The MongoDB collections behind oidc-provider's models, one per model. */
export class ArtifactStore {
  readonly #connection: Connection;

  constructor(connection: Connection) {
    this.#connection = connection;
  }

  collection(model: string): Collection<ArtifactDoc> {
    return this.#connection.collection<ArtifactDoc>(collectionName(model));
  }

  /** Creates the indexes every lookup relies on (src/oidc/artifact-indexes.ts); safe to call on every start. */
  async ensureIndexes(models: readonly string[]): Promise<void> {
    for (const model of models) {
      await this.collection(model).createIndexes(artifactIndexes(model));
      if (model === 'RefreshToken') await this.#ensureSuccessorSlots();
    }
  }

  /** The rotation's one write relies on this index (src/oidc/refresh-chain.ts). Earlier
   * versions kept a superseded token under its parent beside the retry's successor and
   * indexed parentId without uniqueness: those tokens leave the slot first. */
  async #ensureSuccessorSlots(): Promise<void> {
    const tokens = this.collection('RefreshToken');
    await tokens.updateMany({ supersededAt: { $exists: true }, parentId: { $exists: true } }, { $unset: { parentId: '' } });
    if (await tokens.indexExists('parentId_1')) await tokens.dropIndex('parentId_1').catch(unlessUnsupported);
    await tokens.createIndexes([{
      key: { parentId: 1 }, name: 'parentId_slot', unique: true, partialFilterExpression: { parentId: { $exists: true } },
    }]);
  }

  /** The refresh-token chains: one successor slot per token (src/oidc/refresh-chain.ts). */
  get chains(): RefreshChain {
    return new RefreshChain(() => this.collection('RefreshToken'));
  }

  /**
   * Kills a whole grant: the grant first (no new request gets past it), then every token,
   * code and request issued under it. Refresh-token slots are fenced before the tokens go,
   * so a rotation in flight cannot save a live-looking successor afterwards. Returns how
   * many artifacts were deleted.
   */
  async revokeGrant(grantId: string): Promise<number> {
    const grant = await this.collection('Grant').deleteOne({ _id: grantId });
    const codes = await this.collection('AuthorizationCode').find({ grantId }, { projection: { _id: 1 } }).toArray();
    const refreshTokens = await this.chains.revokeGrant(grantId, codes.map((c) => c._id));
    const results = await Promise.all(GRANT_BOUND_MODELS
      .filter((model) => model !== 'RefreshToken')
      .map((model) => this.collection(model).deleteMany({ grantId })));
    return results.reduce((sum, r) => sum + r.deletedCount, grant.deletedCount + refreshTokens);
  }
}

/**
 * Signs out one browser session of `accountId`: the record becomes a tombstone (no
 * payload, no account) that reads as absent and that a request in flight cannot
 * overwrite with the session it loaded (src/oidc/session-adapter.ts). Returns the ended
 * session's payload, or undefined if it was not that account's live session.
 */
export async function endSessionRecord(store: ArtifactStore, uid: string, accountId: string): Promise<SessionPayload | undefined> {
  const sessions = store.collection('Session');
  const doc = await sessions.findOne({ uid, accountId, endedAt: { $exists: false } });
  if (!doc) return undefined;
  const tombstone: ArtifactDoc = { _id: doc._id, payload: '{}', endedAt: new Date(), ...(doc.expiresAt ? { expiresAt: doc.expiresAt } : {}) };
  const result = await sessions.replaceOne({ _id: doc._id, accountId, endedAt: { $exists: false } }, tombstone);
  return result.modifiedCount > 0 ? parsePayload<SessionPayload>(doc) : undefined;
}

export const ALL_MODELS = [
  'Session', 'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'ClientCredentials',
  'Client', 'InitialAccessToken', 'RegistrationAccessToken', 'Interaction', 'ReplayDetection',
  'PushedAuthorizationRequest', 'Grant', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode',
] as const;

/** MongoDB's "no such command": a wire emulator without dropIndexes keeps the old index, which
 * costs its writes but changes no answer. */
const COMMAND_NOT_FOUND = 59;

function unlessUnsupported(err: unknown): void {
  if ((err as { code?: unknown }).code !== COMMAND_NOT_FOUND) throw err;
}

function collectionName(model: string): string {
  return `oidc_${model.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase()}`;
}
