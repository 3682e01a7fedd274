/**
 * `npm run secrets`: prints fresh production values for JWKS and COOKIE_KEYS, using the
 * same generators as development, so operators never hand-craft key material.
 */
import { generateCookieKeys, generateJwks } from './keys.js';

const jwks = await generateJwks();
const cookieKeys = await generateCookieKeys();
console.log(`JWKS='${JSON.stringify(jwks)}'`);
console.log(`COOKIE_KEYS=${cookieKeys.join(',')}`);
