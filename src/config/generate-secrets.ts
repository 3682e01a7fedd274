/**
 * `npm run secrets`: prints a fresh production KEY_ENCRYPTION_KEY. Signing and cookie keys
 * are generated in MongoDB on first start (encrypted under it), so nobody hand-crafts them.
 */
import { generateEncryptionKey } from './keys.js';

console.log(`KEY_ENCRYPTION_KEY=${generateEncryptionKey()}`);
