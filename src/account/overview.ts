
import { defaults } from '../../config/defaults.js';
import type { AccountRecord } from '../db/models/account.js';
import type { SecurityEventRecord, SecurityEventType } from '../db/models/security-event.js';
import { lastTokenIssue } from '../oidc/grant-history.js';
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
  /** A registered API's name and its scopes in words. */
  describeApi(indicator: string, scopes: readonly string[]): Promise<{ name: string; scopes: string[] }>;
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
  /** How the session signed in (src/mfa/acr.ts). */
  acr?: string;
  amr?: string[];
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
      apis: await Promise.all(Object.entries(grant.resources ?? {}).map(async ([indicator, scope]) => {
        const api = await deps.describeApi(indicator, scope.split(' ').filter(Boolean));
        return api.scopes.length > 0 ? `${api.name}: ${api.scopes.join(', ')}` : api.name;
      })),
      firstAuthorizedAt: fromEpoch(grant.iat)!,
      lastUsedAt: fromEpoch(await lastTokenIssue(deps.store, grant.jti)),
    };
  }));
  return apps.sort((a, b) => a.name.localeCompare(b.name));
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
        acr: session.acr,
        amr: session.amr,
      };
    })
    .sort((a, b) => Number(b.current) - Number(a.current) || (b.signedInAt?.getTime() ?? 0) - (a.signedInAt?.getTime() ?? 0));
}

/** What the user is shown of their own security events: the plain-words version of each type. */
const SHOWN: Partial<Record<SecurityEventType, (event: SecurityEventRecord, app: string) => string>> = {
  'session.signed_in': (_e, app) => `Signed in (to ${app})`,
  'login.failed': (e) => (e.detail?.locked_out ? 'Failed sign-in; signing in is now locked for a while' : 'Failed sign-in (wrong password)'),
  'refresh_token.reuse_detected': (_e, app) => `A reused refresh token was detected for ${app}; that access was ended`,
  'grant.removed_by_user': (_e, app) => `You removed the access of ${app}`,
  'session.ended_by_user': () => 'You signed out a device',
  'grant.revoked': (_e, app) => `The access of ${app} was revoked`,
  'user.revoked': (e, app) => {
    if (e.detail?.actor === 'email_restore') return 'Your email address was restored from the old address, and every device signed out';
    return e.clientId ? `An administrator removed the access of ${app}` : 'An administrator signed you out everywhere';
  },
  'user.disabled': () => 'An administrator disabled your account',
  'user.password_changed': (e) => PASSWORD_CHANGED_BY.get(String(e.detail?.actor)) ?? 'An administrator changed your password',
  'user.password_reset_requested': () => 'A password reset link was requested',
  'user.email_verified': () => 'Your email address was confirmed',
  'user.signed_up': () => 'You created your account',
  'profile.changed': () => 'You changed your profile',
  'mfa.totp_added': () => 'An authenticator app was added for two-step verification',
  'mfa.totp_removed': () => 'The authenticator app was removed from two-step verification',
  'mfa.recovery_codes_generated': () => 'New recovery codes were made; the old ones no longer work',
  'mfa.passkey_added': () => 'A passkey was added',
  'mfa.passkey_removed': () => 'A passkey was removed',
  'mfa.recovery_code_used': (e) => `A recovery code was used to sign in (${Number(e.detail?.left ?? 0)} left)`,
  'mfa.failed': () => 'A wrong two-step verification code was entered',
  'user.mfa_reset': () => 'An administrator removed two-step verification from your account',
};

/** By the actor stored with the event (an admin client's id, say): a Map, so no id finds an inherited member. */
const PASSWORD_CHANGED_BY = new Map<string, string>([
  [defaults.account.clientId, 'You changed your password'],
  ['password_reset', 'Your password was reset with an emailed link'],
]);

/** The user's own security events in plain words, newest first. */
export async function recentActivity(deps: OverviewDeps, account: Pick<AccountRecord, '_id'>) {
  const events = await deps.events.model.find({ accountId: account._id, type: { $in: Object.keys(SHOWN) as SecurityEventType[] } })
    .sort({ at: -1 }).limit(defaults.account.activityShown).lean();
  return Promise.all(events.map(async (event) => {
    const client = event.clientId ? await deps.providers.provider.Client.find(event.clientId) : undefined;
    return { at: event.at, text: SHOWN[event.type]!(event, client?.clientName ?? event.clientId ?? 'an app'), ip: event.ip };
  }));
}
