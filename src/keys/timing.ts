import { defaults } from '../../config/defaults.js';
import type { Settings } from '../config/settings.js';
import type { Ring, StoredKey } from '../db/models/key-set.js';

const SECOND = 1000;
const DAY = 24 * 60 * 60 * SECOND;

/** When keys may move from one state to the next; every duration derives from settings. */
export interface KeyTiming {
  pickupMs: number;
  rotationMs: number;
  /** A `next` key must be published this long before it may sign. */
  leadMs(ring: Ring): number;
  /** A key that stopped signing stays published (verifies) this long. */
  retentionMs(ring: Ring): number;
}

export function keyTiming(settings: Settings): KeyTiming {
  const { pickupSeconds, jwksMaxAge, rotationDays, retentionSeconds } = settings.keys;
  // A key signs tokens until every instance has seen it stop (one pickup), and those tokens
  // must keep verifying until the longest-lived of them expires.
  const longestToken = Math.max(settings.ttl.idToken, settings.ttl.accessToken, defaults.ttl.logoutToken);
  const signingRetention = retentionSeconds ?? pickupSeconds + longestToken;
  return {
    pickupMs: pickupSeconds * SECOND,
    rotationMs: rotationDays * DAY,
    // Every instance must publish the key, then every relying party's cached JWKS must
    // expire; cookies are only read by our own instances.
    leadMs: (ring) => (ring === 'cookie' ? pickupSeconds : pickupSeconds + jwksMaxAge) * SECOND,
    retentionMs: (ring) => (ring === 'cookie' ? pickupSeconds + settings.ttl.session : signingRetention) * SECOND,
  };
}

/** The earliest instant a `next` key may start signing. */
export function readyAt(key: StoredKey, timing: KeyTiming): Date {
  return new Date(key.createdAt.getTime() + timing.leadMs(key.ring));
}
