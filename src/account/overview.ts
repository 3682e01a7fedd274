
import { defaults } from '../../config/defaults.js';
import type { AccountRecord } from '../db/models/account.js';
import type { SecurityEventRecord } from '../db/models/security-event.js';
import { parsePayload, type ArtifactStore, type GrantPayload, type SessionPayload } from '../oidc/store.js';
import { predatesCutOff } from '../revocation/cutoff.js';
import type { ProviderSource } from '../oidc/provider-host.js';
import type { SecurityEvents } from '../security/events.js';
import { describeDevice, type Devices } from './devices.js';

/** What the account center reads; the pages and the account API show the same things. */
export interface OverviewDeps {
  providers: ProviderSource;
  store: ArtifactStore;
  events: SecurityEvents;
  devices: Devices;
}

export interface ConnectedApp {
  grantId: string;
  clientId: string;
  name: string;
  uri?: string;
  scopes: string[];
  apis: string[];
  firstAuthorizedAt: Date;
  lastUsedAt?: Date;
}

export interface SignedInSession {
  id: string;
  device: string;
  ip?: string;
  signedInAt?: Date;
  lastActiveAt?: Date;
  current: boolean;
}

const live = (doc: { expiresAt?: Date }) => !doc.expiresAt || doc.expiresAt.getTime() > Date.now();
const fromEpoch = (seconds: number | undefined) => (seconds === undefined ? undefined : new Date(seconds * 1000));

/** Every app holding a grant for the user, except the account center itself. */
export async function connectedApps(deps: OverviewDeps, accountId: string): Promise<ConnectedApp[]> {
  const docs = await deps.store.collection('Grant').find({ accountId, clientId: { $ne: defaults.account.clientId } }).toArray();
  const apps = await Promise.all(docs.filter(live).map(async (doc) => {
    const grant = parsePayload<GrantPayload>(doc);
    const client = await deps.providers.provider.Client.find(grant.clientId);
    return {
      grantId: grant.jti,
      clientId: grant.clientId,
      name: client?.clientName ?? grant.clientId,
      uri: client?.clientUri,
      scopes: (grant.openid?.scope ?? '').split(' ').filter(Boolean),
      apis: Object.entries(grant.resources ?? {}).map(([audience, scope]) => `${audience}: ${scope}`),
      firstAuthorizedAt: fromEpoch(grant.iat)!,
      lastUsedAt: await lastUse(deps.store, grant.jti),
    };
  }));
  return apps.sort((a, b) => a.name.localeCompare(b.name));
}

/** The newest token issued under the grant (a code exchange or a refresh). JWT access tokens
 * are not stored; each comes with a refresh token or from a stored code, so this dates them. */
async function lastUse(store: ArtifactStore, grantId: string): Promise<Date | undefined> {
  const docs = await Promise.all(['RefreshToken', 'AccessToken', 'AuthorizationCode'].map((model) =>
    store.collection(model).find({ grantId }, { projection: { payload: 1 } }).toArray()));
  const newest = Math.max(0, ...docs.flat().map((doc) => parsePayload<{ iat?: number }>(doc).iat ?? 0));
  return newest > 0 ? fromEpoch(newest) : undefined;
}

/** The user's live browser sessions (not those a cut-off ended), newest sign-in first. */
export async function signedInSessions(
  deps: OverviewDeps, account: Pick<AccountRecord, '_id' | 'tokensValidAfter'>, currentUid?: string,
): Promise<SignedInSession[]> {
  const [docs, devices] = await Promise.all([
    deps.store.collection('Session').find({ accountId: account._id }).toArray(),
    deps.devices.byAccount(account._id),
  ]);
  return docs.filter(live)
    .map((doc) => parsePayload<SessionPayload>(doc))
    .filter((session) => !predatesCutOff(account, session.loginTs))
    .map((session) => {
      const device = devices.get(session.uid);
      return {
        id: session.uid,
        device: describeDevice(device?.userAgent),
        ip: device?.ip,
        signedInAt: fromEpoch(session.loginTs),
        lastActiveAt: device?.lastActiveAt,
        current: session.uid === currentUid,
      };
    })
    .sort((a, b) => Number(b.current) - Number(a.current) || (b.signedInAt?.getTime() ?? 0) - (a.signedInAt?.getTime() ?? 0));
}

/** The user's own security events in plain words, newest first. */
export async function recentActivity(deps: OverviewDeps, account: Pick<AccountRecord, '_id' | 'username'>) {
  const events = await deps.events.model.find({
    $or: [{ accountId: account._id }, { type: 'login.locked_out', 'detail.username': account.username }],
  }).sort({ at: -1 }).limit(defaults.account.activityShown).lean();
  return Promise.all(events.map(async (event) => ({
    at: event.at,
    text: describeEvent(event, event.clientId ? (await deps.providers.provider.Client.find(event.clientId))?.clientName ?? event.clientId : undefined),
    ip: event.ip,
  })));
}

function describeEvent(event: SecurityEventRecord, app: string | undefined): string {
  const admin = typeof event.detail?.actor === 'string' && event.detail.actor !== defaults.account.clientId;
  switch (event.type) {
    case 'session.signed_in': return app ? `Signed in (for ${app})` : 'Signed in';
    case 'login.locked_out': return 'Sign-in locked after too many failed attempts';
    case 'refresh_token.reuse_detected': return `A reused refresh token was detected${app ? ` for ${app}` : ''}; its access was ended`;
    case 'refresh_token.family_revoked': return `Access of ${app ?? 'an app'} was ended after token reuse`;
    case 'grant.removed_by_user': return `You removed the access of ${app ?? 'an app'}`;
    case 'session.ended_by_user': return 'You signed out a device';
    case 'grant.revoked': return `Access of ${app ?? 'an app'} was revoked`;
    case 'user.revoked': return app ? `An administrator removed the access of ${app}` : 'An administrator signed you out everywhere';
    case 'user.disabled': return 'An administrator disabled your account';
    case 'user.password_changed': return admin ? 'An administrator changed your password' : 'You changed your password';
    case 'profile.changed': return 'You changed your profile';
    default: return event.type;
  }
}
