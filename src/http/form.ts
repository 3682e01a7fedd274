import { bodyParser } from '@koa/bodyparser';

import { defaults } from '../../config/defaults.js';

/** HTML form posts (application/x-www-form-urlencoded) for our pages, size-limited. */
export const formBody = bodyParser({ enableTypes: ['form'], formLimit: `${defaults.limits.bodyBytes}b`, encoding: 'utf-8' });
