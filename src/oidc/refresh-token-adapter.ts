import Provider, { errors, type AdapterPayload, type KoaContextWithOIDC } from 'oidc-provider';

import { defaults } from '../../config/defaults.js';
import type { Settings } from '../config/settings.js';
import { pause } from '../db/deadline.js';
import type { SecurityEvents } from '../security/events.js';
import { MongoAdapter } from './adapter.js';
import { abandoned, awaitDelivery, deliverBy } from './delivery.js';
import { recordReuse, refreshEventInput, type RefreshTokenIds } from './refresh-audit.js';
import type { RefreshChain } from './refresh-chain.js';
import { refreshPolicyFor } from './refresh-policy.js';
import type { ArtifactDoc, ArtifactStore } from './store.js';

/** What the refresh grant's read of a token decided; its successor's save acts on it. */
interface Rotation {
  jti: string;
  /** The successor a retry replaces: never delivered, or (grace period) delivered but unused. */
  replace?: ArtifactDoc;
  grace: boolean;
  ids: RefreshTokenIds;
}

type Verdict =
  | { kind: 'free' }
  | { kind: 'replace'; successor: ArtifactDoc; grace: boolean }
  | { kind: 'reuse'; superseded: boolean }
  | { kind: 'gone' };

/** A slot and what holds it; `parent` is absent for a code's slot (codes live elsewhere). */
interface SlotState {
  parent?: ArtifactDoc;
  successor?: ArtifactDoc;
}

/** A commit keeps losing its slot only to requests racing it; each loss is judged afresh. */
const MAX_COMMIT_ATTEMPTS = 4;

const rotations = new WeakMap<KoaContextWithOIDC, Rotation>();

/**
 * RefreshToken storage that makes a rotation one atomic write and owns reuse detection,
 * layered on MongoAdapter without touching oidc-provider's grant logic.
 *
 * oidc-provider's refresh grant reads the token, consumes it, then saves its successor.
 * Here consume() writes nothing: the successor's save is the commit, one insert into the
 * presented token's successor slot (src/oidc/refresh-chain.ts). Whatever fails before it
 * leaves the token as it was, and the client's retry is an ordinary refresh.
 *
 * A token whose slot holds a successor that was never delivered (its answer failed or came
 * too late, src/oidc/delivery.ts) is presented again by a client retrying: the retry
 * supersedes that successor. A token whose successor was delivered is reuse: the family is
 * revoked, and the answer is the same invalid_grant an unknown token gets, decided as soon
 * as the token is read (oidc-provider checks scope, grant and account first). Within a grace
 * period, a delivered but unused successor may be superseded once.
 */
export class RefreshTokenAdapter extends MongoAdapter {
  readonly #settings: Settings;
  readonly #events: SecurityEvents;
  readonly #chain: RefreshChain;
  #graceRetries = 0;

  constructor(store: ArtifactStore, deps: { settings: Settings; events: SecurityEvents }) {
    super(store, 'RefreshToken');
    this.#settings = deps.settings;
    this.#events = deps.events;
    this.#chain = store.chains;
  }

  /** Grace retries this process has allowed (each is also a `refresh_token.grace_retry` event). */
  get graceRetryCount(): number {
    return this.#graceRetries;
  }

  override async find(id: string): Promise<AdapterPayload | undefined> {
    const state = await this.#chain.read(id);
    if (!state) return undefined;
    const { doc } = state;
    const used = Boolean(doc.supersededAt || state.successor);
    const ctx = refreshGrantContext();
    if (!ctx) return this.isExpired(doc) ? undefined : payloadOf(doc, used);
    if (this.isExpired(doc)) {
      await this.#events.record('refresh_token.expired_use', refreshEventInput(ctx, doc));
      // Returned as is: the grant handler reads it with ignoreExpiration and answers "expired".
      return payloadOf(doc, used);
    }
    // Another client's token: oidc-provider answers invalid_grant (client mismatch), the
    // same body as for an unknown token, and that client may not end someone else's family.
    if (doc.clientId !== ctx.oidc.client?.clientId) return payloadOf(doc, used);

    const verdict = await this.#decide(ctx, () => this.#tokenSlot(id), { parent: doc, successor: state.successor });
    if (verdict.kind === 'gone') return undefined;
    if (verdict.kind === 'reuse') return this.#reused(doc, verdict.superseded);
    const replace = verdict.kind === 'replace' ? verdict.successor : undefined;
    rotations.set(ctx, { jti: id, replace, grace: verdict.kind === 'replace' && verdict.grace, ids: doc });
    return payloadOf(doc, false);
  }

  /** The rotation commits when the successor is saved (upsert); nothing to write here. */
  override async consume(id: string): Promise<void> {
    const ctx = Provider.ctx;
    if (ctx && rotations.get(ctx)?.jti === id) return;
    // Not from the refresh grant's read (oidc-provider has no such caller): block its slot.
    if (!(await this.#chain.fence(id))) await this.lostConsumeRace(id);
  }

  override async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const ctx = Provider.ctx;
    const rotated = ctx?.oidc.entities.RotatedRefreshToken?.jti;
    const code = ctx?.oidc.route === 'token' ? ctx.oidc.entities.AuthorizationCode?.jti : undefined;
    const slot = rotated ?? code;
    if (!ctx || !slot || slot === id) return super.upsert(id, payload, expiresIn);

    const doc = this.toDoc(id, payload, expiresIn);
    doc.parentId = slot;
    doc.undelivered = deliverBy();
    const load = rotated ? () => this.#tokenSlot(slot) : async () => ({ successor: await this.#chain.successorOf(slot) });
    await this.#commit(ctx, slot, doc, load, rotated ? rotations.get(ctx) : undefined);
    awaitDelivery(ctx.res, doc.undelivered, () => this.#chain.markDelivered(id, slot));
  }

  /** A token destroyed (revocation endpoint) keeps its parent's slot held: deleting it would
   * make the parent read as unused. */
  override async destroy(id: string): Promise<void> {
    await this.#chain.end([id]);
  }

  /** Revocation through oidc-provider (revocation endpoint, a code replayed): fenced first. */
  override async revokeByGrantId(grantId: string): Promise<void> {
    await this.#chain.revokeGrant(grantId);
  }

  protected override async revokeReplayed(grantId: string, doc: ArtifactDoc): Promise<void> {
    await this.revokeFamily(grantId);
    const ctx = Provider.ctx;
    if (ctx) await recordReuse(this.#events, ctx, doc, doc.supersededAt ? { superseded: true } : undefined);
  }

  /** Inserts `doc` into `slot`, superseding what the read decided to replace; a slot taken
   * meanwhile is judged again as a read would judge it. */
  async #commit(ctx: KoaContextWithOIDC, slot: string, doc: ArtifactDoc, load: () => Promise<SlotState | undefined>, rotation?: Rotation): Promise<void> {
    let verdict: Verdict = rotation?.replace ? { kind: 'replace', successor: rotation.replace, grace: rotation.grace } : { kind: 'free' };
    // Set once another request superseded what this one meant to replace: it is about to fill
    // the slot it emptied, so an empty slot is its, not free (two retries racing get one token).
    let outpaced = false;
    for (let attempt = 0; attempt < MAX_COMMIT_ATTEMPTS; attempt += 1) {
      if (verdict.kind === 'gone') throw new errors.InvalidGrant('grant revoked');
      if (verdict.kind === 'reuse') return this.#replayedAtCommit(ctx, slot, rotation, verdict.superseded);
      const replaced = verdict.kind === 'replace' ? verdict : undefined;
      if (replaced && !(await this.#chain.supersede(slot, replaced.successor, replaced.grace))) {
        outpaced = true;
        verdict = await this.#decide(ctx, load, undefined, outpaced);
        continue;
      }
      // Replacing a grace retry's undelivered token keeps the grace used.
      if (replaced?.grace || replaced?.successor.graceRetry) doc.graceRetry = true;
      if (await this.#chain.insert(doc)) {
        if (replaced) await this.#retried(ctx, rotation?.ids ?? doc, replaced.grace);
        return;
      }
      verdict = await this.#decide(ctx, load, undefined, outpaced);
    }
    throw new errors.InvalidGrant('refresh token rotation lost to concurrent requests');
  }

  /**
   * What a presented token's slot means. An undelivered successor whose answer may still
   * leave belongs to a request in flight: wait for its outcome (within this request's
   * budget) rather than guess, so a concurrent second holder is still reuse.
   */
  async #decide(ctx: KoaContextWithOIDC, load: () => Promise<SlotState | undefined>, initial?: SlotState, outpaced = false): Promise<Verdict> {
    for (let state = initial ?? (await load()); ; state = await load()) {
      if (!state) return { kind: 'gone' };
      const { parent, successor } = state;
      if (parent?.supersededAt) return { kind: 'reuse', superseded: true };
      // Emptied by the request that outpaced this one: wait for what it stores there.
      if (!successor && outpaced) {
        await pause(defaults.operations.deliveryPollMs);
        continue;
      }
      if (!successor) return { kind: 'free' };
      // A fenced slot: its token is being superseded (reuse), or a code's grant was revoked.
      if (successor.fence) return parent ? { kind: 'reuse', superseded: true } : { kind: 'gone' };
      if (!successor.undelivered) {
        const grace = parent !== undefined && (await this.#graceAllows(ctx, successor));
        return grace ? { kind: 'replace', successor, grace: true } : { kind: 'reuse', superseded: false };
      }
      if (abandoned(successor.undelivered)) return { kind: 'replace', successor, grace: false };
      await pause(defaults.operations.deliveryPollMs);
    }
  }

  async #tokenSlot(id: string): Promise<SlotState | undefined> {
    const state = await this.#chain.read(id);
    return state && { parent: state.doc, successor: state.successor };
  }

  /** Grace: a delivered successor, unused, issued within the window, that did not itself
   * replace a delivered one (once per token). */
  async #graceAllows(ctx: KoaContextWithOIDC, successor: ArtifactDoc): Promise<boolean> {
    const { graceSeconds } = refreshPolicyFor(this.#settings, ctx.oidc.client);
    if (graceSeconds <= 0 || successor.graceRetry) return false;
    const issued = (JSON.parse(successor.payload) as { iat?: number }).iat ?? 0;
    if ((issued + graceSeconds) * 1000 <= Date.now()) return false;
    return !(await this.#chain.successorOf(successor._id));
  }

  async #retried(ctx: KoaContextWithOIDC, ids: RefreshTokenIds, grace: boolean): Promise<void> {
    if (grace) this.#graceRetries += 1;
    await this.#events.record(grace ? 'refresh_token.grace_retry' : 'refresh_token.retried', refreshEventInput(ctx, ids));
  }

  async #reused(doc: ArtifactDoc, superseded: boolean): Promise<never> {
    const replayed = superseded && !doc.supersededAt ? { ...doc, supersededAt: new Date() } : doc;
    if (doc.grantId) await this.revokeReplayed(doc.grantId, replayed);
    throw new errors.InvalidGrant('refresh token already used');
  }

  /** A second holder got there between this request's read and its commit. */
  async #replayedAtCommit(ctx: KoaContextWithOIDC, slot: string, rotation: Rotation | undefined, superseded: boolean): Promise<never> {
    const grantId = rotation?.ids.grantId ?? ctx.oidc.entities.AuthorizationCode?.grantId;
    if (typeof grantId === 'string') {
      const doc: ArtifactDoc = { _id: slot, payload: '{}', grantId, ...(superseded ? { supersededAt: new Date() } : {}) };
      if (rotation) await this.revokeReplayed(grantId, { ...doc, accountId: text(rotation.ids.accountId), clientId: text(rotation.ids.clientId) });
      else await this.revokeFamily(grantId);
    }
    throw new errors.InvalidGrant(rotation ? 'refresh token already used' : 'authorization code already used');
  }
}

/** oidc-provider's payload, `consumed` derived from the chain rather than stored. */
function payloadOf(doc: ArtifactDoc, used: boolean): AdapterPayload {
  const payload = JSON.parse(doc.payload) as AdapterPayload;
  delete payload.consumed;
  if (used) payload.consumed = Math.floor(Date.now() / 1000);
  return payload;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The request context when this is the refresh_token grant: retries and reuse only apply
 * there (introspection and revocation see a used token as used), and expired-token events
 * only concern refresh attempts. */
function refreshGrantContext(): KoaContextWithOIDC | undefined {
  const ctx = Provider.ctx;
  return ctx?.oidc.route === 'token' && ctx.oidc.params?.grant_type === 'refresh_token' ? ctx : undefined;
}
