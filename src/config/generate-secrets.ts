/**
 * `npm run secrets`: prints fresh production values for KEY_ENCRYPTION_KEY and
 * ADMIN_CLIENT_SECRET. Signing and cookie keys are generated in MongoDB on first start
 * (encrypted under the first), so nobody hand-crafts key material, and every value
 * passes the production length checks.
 */
import { randomBytes } from 'node:crypto';

import { generateEncryptionKey } from './keys.js';

console.log(`KEY_ENCRYPTION_KEY=${generateEncryptionKey()}`);
console.log(`ADMIN_CLIENT_SECRET=${randomBytes(32).toString('base64url')}`);
