import Keygrip from 'keygrip';
import { describe, expect, it } from 'vitest';

import { CookieSigner } from '../../src/http/cookie-signer.js';

const keys = ['current-key-ü', 'previous-key'];
const data = '_session=abc.def; ünïcode';

describe('cookie signatures', () => {
  it('are the ones Keygrip made, so cookies signed before keep verifying', () => {
    const signer = new CookieSigner(keys);
    expect(signer.sign(data)).toBe(new Keygrip(keys).sign(data));
    expect(signer.verify(data, new Keygrip(keys).sign(data))).toBe(true);
    expect(new Keygrip(keys).verify(data, signer.sign(data))).toBe(true);
  });

  it('sign with the first key and verify with any, saying which', () => {
    const signer = new CookieSigner(keys);
    expect(signer.index(data, new Keygrip([keys[1]!]).sign(data))).toBe(1);
    expect(signer.index(data, signer.sign(data))).toBe(0);
  });

  it('refuse a tampered value, a forged or truncated signature, and a foreign key', () => {
    const signer = new CookieSigner(keys);
    const signature = signer.sign(data);
    expect(signer.verify(`${data}x`, signature)).toBe(false);
    const forged = `${signature.slice(0, -1)}${signature.endsWith('A') ? 'B' : 'A'}`;
    expect(signer.verify(data, forged)).toBe(false);
    expect(signer.verify(data, signature.slice(0, -1))).toBe(false);
    expect(signer.verify(data, '')).toBe(false);
    expect(signer.verify(data, new Keygrip(['someone-else']).sign(data))).toBe(false);
  });
});
