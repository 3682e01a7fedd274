/**
 * `npm run secrets`: prints fresh production values for JWKS, COOKIE_KEYS and
 * ADMIN_CLIENT_SECRET, using the same generators as development, so operators never
 * hand-craft key material (and every value passes the production length checks).
 */
import { randomBytes } from 'node:crypto';

import { generateCookieKeys, generateJwks } from './keys.js';

const jwks = await generateJwks();
const cookieKeys = await generateCookieKeys();
console.log(`JWKS='${JSON.stringify(jwks)}'`);
console.log(`COOKIE_KEYS=${cookieKeys.join(',')}`);
console.log(`ADMIN_CLIENT_SECRET=${randomBytes(32).toString('base64url')}`);
