import http from 'node:http';

/**
 * A minimal browser over real HTTP: keeps cookies per origin, follows redirects by hand
 * and submits our login and consent forms, so protocol tests can sign a user in without
 * Chromium (the browser suite covers the pages themselves).
 *
 * It speaks HTTP through node:http on keep-alive connections rather than fetch: the bench
 * runs 100 of these on the machine it measures, and with fetch the load generator took
 * 5.7 ms of CPU per sign-in, with node:http 4.3 ms. Callers still get a standard Response.
 */
export interface UserAgentOptions {
  /**
   * Opt-in: when a submitted form comes back as the server's load shedding (503 with
   * Retry-After), this is called with the seconds to wait and the same form is submitted
   * again once it resolves, as a person would do; throwing gives up. Without it such a page
   * is just the next page (tests of the shedding itself see it as it is).
   */
  waitWhenShed?: (retryAfterSeconds: number) => Promise<void>;
}

export class UserAgent {
  readonly cookies = new Map<string, string>();
  /** Sent with every request, e.g. `X-Forwarded-For` to stand in for a proxy. */
  readonly headers: Record<string, string>;
  readonly #waitWhenShed: UserAgentOptions['waitWhenShed'];

  constructor(headers: Record<string, string> = {}, options: UserAgentOptions = {}) {
    this.headers = headers;
    this.#waitWhenShed = options.waitWhenShed;
  }

  async request(url: string | URL, init: { method?: string; form?: Record<string, string> } = {}): Promise<Response> {
    const target = new URL(url);
    const headers: Record<string, string> = { accept: 'text/html', ...this.headers };
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await send(target, init.method ?? (init.form ? 'POST' : 'GET'), headers, body);
    for (const line of res.headers.getSetCookie()) this.store(line);
    return res;
  }

  /** Follows redirects until one leaves the server (to `stopAt`) or a page is shown. */
  async follow(url: string | URL, stopAt: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<{ url: string; res: Response }> {
    let res = await this.request(url, init);
    let current = new URL(url).href;
    for (let hops = 0; hops < 10 && res.status >= 300 && res.status < 400; hops += 1) {
      current = new URL(res.headers.get('location')!, current).href;
      if (current.startsWith(stopAt)) return { url: current, res };
      res = await this.request(current, { method: 'GET' });
    }
    return { url: current, res };
  }

  /** Runs the whole authorization request: login (if asked), consent (if asked); returns the callback URL. */
  async authorize(authorizationUrl: string | URL, redirectUri: string, login?: { username: string; password: string }): Promise<string> {
    let step = await this.follow(authorizationUrl, redirectUri);
    for (let pages = 0; pages < 4 && !step.url.startsWith(redirectUri); pages += 1) {
      const html = await step.res.text();
      const uid = /\/interaction\/([\w-]+)\//.exec(html)?.[1];
      if (!uid) throw new Error(`unexpected page at ${step.url} (${step.res.status}): ${html.slice(0, 300)}`);
      const origin = new URL(step.url).origin;
      if (html.includes('name="password"')) {
        if (!login) throw new Error('login form shown but no credentials given');
        step = await this.submit(`${origin}/interaction/${uid}/login`, redirectUri, { login: login.username, password: login.password });
      } else {
        step = await this.submit(`${origin}/interaction/${uid}/confirm`, redirectUri, {});
      }
    }
    if (!step.url.startsWith(redirectUri)) throw new Error(`authorization did not return to the client: ${step.url}`);
    return step.url;
  }

  /** Submits a form; a shed answer is waited out and submitted again if the agent opted in. */
  async submit(url: string, redirectUri: string, form: Record<string, string>): Promise<{ url: string; res: Response }> {
    for (;;) {
      const step = await this.follow(url, redirectUri, { form });
      const retryAfter = step.res.status === 503 ? Number(step.res.headers.get('retry-after') ?? Number.NaN) : Number.NaN;
      if (!this.#waitWhenShed || !Number.isFinite(retryAfter)) return step;
      await step.res.body?.cancel();
      await this.#waitWhenShed(retryAfter);
    }
  }

  private store(line: string): void {
    const [pair] = line.split(';');
    const eq = pair!.indexOf('=');
    const name = pair!.slice(0, eq).trim();
    const value = pair!.slice(eq + 1).trim();
    if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.cookies.delete(name);
    else this.cookies.set(name, value);
  }
}

/** Connections stay open between requests, as a browser's do. */
const keepAlive = new http.Agent({ keepAlive: true });
/** Statuses whose Response must have no body. */
const NO_BODY = new Set([101, 103, 204, 205, 304]);

/** One request, not following redirects; the whole body is read into the Response. Unlike
 * fetch, it sends any `Host` header it is given (a test can stand in for a load balancer). */
export function send(target: URL, method: string, headers: Record<string, string>, body: string | undefined): Promise<Response> {
  if (target.protocol !== 'http:') throw new Error(`UserAgent speaks plain HTTP only: ${target.href}`);
  return new Promise((resolve, reject) => {
    const req = http.request(target, { method, headers, agent: keepAlive }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', reject);
      res.once('end', () => {
        const responseHeaders = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) responseHeaders.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
        const status = res.statusCode ?? 0;
        resolve(new Response(NO_BODY.has(status) ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage, headers: responseHeaders }));
      });
    });
    req.once('error', reject);
    req.end(body);
  });
}
