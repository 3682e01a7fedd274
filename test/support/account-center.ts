import type { TestServer } from './server.js';
import type { UserAgent } from './user-agent.js';

/** Where `follow` never stops early: every redirect is followed to the page it ends on. */
const NOWHERE = 'about:nowhere';

export interface AccountPage {
  status: number;
  html: string;
  /** The page's CSRF token (the `_csrf` field of its forms). */
  csrf: string;
}

/** Opens /account over HTTP as a browser would: signs in through /auth if asked, back to the page. */
export async function openAccountCenter(server: TestServer, agent: UserAgent, person?: { username: string; password: string }): Promise<AccountPage> {
  let { url, res } = await agent.follow(`${server.issuer}/account`, NOWHERE);
  let html = await res.text();
  const uid = /\/interaction\/([\w-]+)\/login/.exec(html)?.[1];
  if (uid) {
    if (!person) throw new Error('the account center asks to sign in');
    ({ url, res } = await agent.follow(`${server.issuer}/interaction/${uid}/login`, NOWHERE, { form: { login: person.username, password: person.password } }));
    html = await res.text();
  }
  if (!url.startsWith(`${server.issuer}/account`)) throw new Error(`not at the account center: ${url} ${html.slice(0, 200)}`);
  return { status: res.status, html, csrf: /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? '' };
}

/** Posts one of the account center's forms (the CSRF token added) and follows to the page it ends on. */
export async function postAccountForm(
  server: TestServer, agent: UserAgent, csrf: string, path: string, form: Record<string, string>,
): Promise<{ status: number; url: string; html: string }> {
  const { url, res } = await agent.follow(`${server.issuer}/account${path}`, NOWHERE, { form: { _csrf: csrf, ...form } });
  return { status: res.status, url, html: await res.text() };
}

/** Moves the stored sign-in of the user's browser sessions back, as if `seconds` had passed. */
export async function ageSessions(server: TestServer, accountId: string, seconds: number): Promise<void> {
  const sessions = server.store.collection('Session');
  for (const doc of await sessions.find({ accountId }).toArray()) {
    const payload = JSON.parse(doc.payload) as { loginTs: number };
    payload.loginTs -= seconds;
    await sessions.updateOne({ _id: doc._id }, { $set: { payload: JSON.stringify(payload) } });
  }
}
