import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';

import { loadSettings } from '../../src/config/settings.js';
import type { StoredKey } from '../../src/db/models/key-set.js';
import { KeyLifecycleError, KeyPlan } from '../../src/keys/lifecycle.js';
import { keyMint } from '../../src/keys/minting.js';
import { KeySealer } from '../../src/keys/sealing.js';
import { keyTiming } from '../../src/keys/timing.js';

/** The production timings (defaults): 90-day rotation, 10-minute JWKS max-age, 30 s pickup, 1 h ID tokens. */
const timing = keyTiming(loadSettings({}));
const mint = keyMint(new KeySealer(randomBytes(32)));
const DAY = 24 * 60 * 60 * 1000;
const start = new Date('2030-01-01T00:00:00Z');
const at = (ms: number) => new Date(start.getTime() + ms);

async function plan(keys: readonly StoredKey[], now: Date, apply: (p: KeyPlan) => Promise<unknown>): Promise<KeyPlan> {
  const p = new KeyPlan(keys, now, timing, mint);
  await apply(p);
  return p;
}

const states = (keys: readonly StoredKey[]) => keys.filter((k) => k.ring === 'RS256').map((k) => k.state);

describe('the key lifecycle with the default timings', () => {
  it('starts every ring with a signing key and a published successor', async () => {
    const { keys } = await plan([], start, (p) => p.maintain());
    for (const ring of ['RS256', 'ES256', 'cookie'] as const) {
      expect(keys.filter((k) => k.ring === ring).map((k) => k.state).sort()).toEqual(['current', 'next']);
    }
  });

  it('rotates on schedule after KEY_ROTATION_DAYS, never before, and retires the old key after the longest token lifetime', async () => {
    const first = await plan([], start, (p) => p.maintain());
    const early = await plan(first.keys, at(89 * DAY), (p) => p.maintain());
    expect(early.changes).toEqual([]);

    const rotated = await plan(first.keys, at(90 * DAY), (p) => p.maintain());
    const rs = rotated.changes.find((c) => c.type === 'rotated' && c.ring === 'RS256');
    expect(rs).toMatchObject({ reason: 'schedule', replaced: first.find('RS256', 'current')!.kid, kid: first.find('RS256', 'next')!.kid });
    expect(states(rotated.keys).sort()).toEqual(['current', 'next', 'previous']);
    // ID tokens (1 h) are the longest-lived signed tokens by default; plus one pickup.
    const previous = rotated.find('RS256', 'previous')!;
    expect(previous.retireAt!.getTime() - at(90 * DAY).getTime()).toBe((3600 + 30) * 1000);

    const stillThere = await plan(rotated.keys, new Date(previous.retireAt!.getTime() - 1), (p) => p.maintain());
    expect(stillThere.find('RS256', 'previous')?.kid).toBe(previous.kid);
    const retired = await plan(rotated.keys, previous.retireAt!, (p) => p.maintain());
    const gone = retired.keys.find((k) => k.kid === previous.kid)!;
    expect(gone).toMatchObject({ state: 'retired' });
    expect(gone.sealed).toBeUndefined();
  });

  it('keeps a previous cookie key for a whole session lifetime', async () => {
    const first = await plan([], start, (p) => p.maintain());
    const rotated = await plan(first.keys, at(90 * DAY), (p) => p.maintain());
    const previous = rotated.find('cookie', 'previous')!;
    expect(previous.retireAt!.getTime() - at(90 * DAY).getTime()).toBe((14 * 24 * 3600 + 30) * 1000);
  });

  it('refuses an on-demand rotation before the next key has been published for the JWKS max-age plus one pickup', async () => {
    const first = await plan([], start, (p) => p.maintain());
    const current = first.find('RS256', 'current')!.kid;
    await expect(plan(first.keys, at(10 * 60 * 1000 + 29_000), (p) => p.rotate('RS256', current)))
      .rejects.toMatchObject({ code: 'not_ready' });
    const ready = await plan(first.keys, at(10 * 60 * 1000 + 30_000), (p) => p.rotate('RS256', current));
    expect(ready.find('RS256', 'current')!.kid).toBe(first.find('RS256', 'next')!.kid);
    await expect(plan(ready.keys, at(DAY), (p) => p.rotate('RS256', current))).rejects.toMatchObject({ code: 'conflict' });
  });

  it('replaces a revoked signing key at once and erases its private part', async () => {
    const first = await plan([], start, (p) => p.maintain());
    const current = first.find('ES256', 'current')!;
    const next = first.find('ES256', 'next')!;
    const revoked = await plan(first.keys, at(1000), (p) => p.revoke(current.kid));
    expect(revoked.find('ES256', 'current')!.kid).toBe(next.kid);
    expect(revoked.find('ES256', 'next')).toBeDefined();
    expect(revoked.find('ES256', 'previous')).toBeUndefined();
    expect(revoked.keys.find((k) => k.kid === current.kid)).toMatchObject({ state: 'revoked' });
    expect(revoked.keys.find((k) => k.kid === current.kid)!.sealed).toBeUndefined();
    await expect(plan(revoked.keys, at(2000), (p) => p.revoke(current.kid))).rejects.toBeInstanceOf(KeyLifecycleError);
  });
});
