import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type Koa from 'koa';

import { viewsDir } from '../config/paths.js';
import { nameRoute } from '../observability/requests.js';

const require = createRequire(import.meta.url);
/** The package's folder: its `exports` name no bundle, so the browser bundle (its `unpkg` file)
 * is found from the CommonJS entry, `<package>/script/index.js`. */
const simpleWebAuthnBrowser = path.dirname(path.dirname(require.resolve('@simplewebauthn/browser')));

/** What the pages load from us: the stylesheet, and the scripts of the pages that need them. */
const ASSETS = new Map<string, { file: string; type: string }>([
  ['/assets/style.css', { file: path.join(viewsDir, 'assets', 'style.css'), type: 'text/css' }],
  // Passkeys need the browser's WebAuthn API: SimpleWebAuthn's browser part, and ours around it.
  ['/assets/webauthn.js', { file: path.join(simpleWebAuthnBrowser, 'dist', 'bundle', 'index.umd.min.js'), type: 'text/javascript' }],
  ['/assets/passkey.js', { file: path.join(viewsDir, 'assets', 'passkey.js'), type: 'text/javascript' }],
]);

/** Serves the assets (read once, cached an hour by browsers); anything else passes on. */
export function assets(): Koa.Middleware {
  const loaded = new Map<string, Promise<string>>();
  return async (ctx, next) => {
    const asset = ASSETS.get(ctx.path);
    if (!asset || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    nameRoute(ctx, ctx.path);
    if (!loaded.has(ctx.path)) loaded.set(ctx.path, readFile(asset.file, 'utf8'));
    ctx.type = asset.type;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = await loaded.get(ctx.path);
  };
}
