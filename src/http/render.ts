import path from 'node:path';
import ejs from 'ejs';
import type { Context } from 'koa';

import { viewsDir } from '../config/paths.js';

/** Pages carry only our stylesheet, and no script unless they ask (`scripts`: our own files,
 * never inline, and requests back to us). form-action is left out on purpose: browsers apply
 * it to the redirects after a submit, which go to the client's origin. */
const PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'";
const SCRIPT_CSP = `${PAGE_CSP}; script-src 'self'; connect-src 'self'`;

export async function renderPage(ctx: Context, view: string, data: Record<string, unknown>, options: { scripts?: boolean } = {}): Promise<void> {
  // Compiled once per file (includes too): compiling was a good part of a sign-in's CPU.
  // The views ship with the code, so a change to them takes a restart like any other.
  const html = await ejs.renderFile(path.join(viewsDir, `${view}.ejs`), data, { async: false, cache: true });
  ctx.set('Content-Security-Policy', options.scripts ? SCRIPT_CSP : PAGE_CSP);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'html';
  ctx.body = html;
}
