import type { Collection, Connection } from 'mongoose';
import type { JWK } from 'jose';

export const SIGNING_ALGS = ['RS256', 'ES256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

/** A key ring: the keys of one algorithm, or the cookie keys. Each ring rotates on its own. */
export type Ring = SigningAlg | 'cookie';
export const RINGS: readonly Ring[] = [...SIGNING_ALGS, 'cookie'];

/**
 * next: published (JWKS, cookie verification), not signing yet. current: signs.
 * previous: verifies only, until retireAt. retired / revoked: gone, private part erased.
 */
export const KEY_STATES = ['next', 'current', 'previous', 'retired', 'revoked'] as const;
export type KeyState = (typeof KEY_STATES)[number];

export interface StoredKey {
  kid: string;
  ring: Ring;
  state: KeyState;
  source: 'generated' | 'imported';
  /** When the key was first published (a `next` key) or, for a first key, began signing. */
  createdAt: Date;
  activatedAt?: Date;
  deactivatedAt?: Date;
  /** A previous key leaves the key set at this instant. */
  retireAt?: Date;
  /** When the key was retired or revoked. */
  endedAt?: Date;
  /** Signing keys: the public JWK our JWKS publishes. */
  publicJwk?: JWK;
  /** The private JWK (or cookie secret as an `oct` JWK), encrypted; erased when the key ends. */
  sealed?: string;
}

/** All keys of all rings in one document, so every transition is one atomic compare-and-set on `version`. */
export interface KeySetDoc {
  _id: string;
  version: number;
  keys: StoredKey[];
  updatedAt: Date;
}

export const KEY_SET_ID = 'keys';

export function keySetCollection(connection: Connection): Collection<KeySetDoc> {
  return connection.collection<KeySetDoc>('key_sets');
}
