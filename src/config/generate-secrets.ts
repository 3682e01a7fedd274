/**
 * `npm run -s secrets > .env`: fresh production secrets as KEY=value lines, and nothing else
 * on stdout, so the output is a valid .env file for `docker compose` or any dotenv loader.
 * Signing and cookie keys are not among them: they are generated in MongoDB on the first
 * start, encrypted under KEY_ENCRYPTION_KEY, so nobody hand-crafts key material.
 */
import { randomBytes } from 'node:crypto';

import { generateEncryptionKey } from './keys.js';

/** base64url: no character a dotenv parser, a shell or a MongoDB connection string treats specially. */
const secret = () => randomBytes(32).toString('base64url');

const secrets = {
  KEY_ENCRYPTION_KEY: generateEncryptionKey(),
  ADMIN_CLIENT_SECRET: secret(),
  // docker-compose.yml: MongoDB's root user, and the provider's own user of its database.
  MONGO_ROOT_PASSWORD: secret(),
  MONGO_PASSWORD: secret(),
};

process.stdout.write(Object.entries(secrets).map(([key, value]) => `${key}=${value}\n`).join(''));
