import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

import type { SecurityEventType } from '../db/models/security-event.js';

export type SignInOutcome = 'succeeded' | 'failed' | 'locked_out';

/** Seconds; from a fast JWT issue (a few ms) to a slow scrypt sign-in or a database timeout. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const DB_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/**
 * Every series this server exports, on its own registry (two servers in one test process
 * never share counters). Label values are bounded: route templates, grant and token types
 * oidc-provider accepted, command names, never raw paths, ids or client-chosen strings.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds', help: 'HTTP requests by route template, method and status',
    labelNames: ['method', 'route', 'status'] as const, buckets: HTTP_BUCKETS, registers: [this.registry],
  });

  readonly tokensIssued = this.#counter('oidc_tokens_issued_total', 'Tokens issued at the token endpoint', ['grant_type', 'token_type']);
  readonly refreshRotations = this.#counter('oidc_refresh_token_rotations_total', 'Refresh tokens consumed by a rotation');
  readonly reuseDetections = this.#counter('oidc_refresh_token_reuse_detected_total', 'Used refresh tokens presented again');
  readonly familyRevocations = this.#counter('oidc_refresh_token_family_revocations_total', 'Refresh-token families revoked', ['reason']);
  readonly graceRetries = this.#counter('oidc_refresh_token_grace_retries_total', 'Refresh retries allowed within the grace period');
  readonly signIns = this.#counter('oidc_sign_ins_total', 'Password sign-in attempts by outcome', ['outcome']);
  readonly adminRevocations = this.#counter('oidc_admin_revocations_total', 'Revocations through the admin API', ['kind']);
  readonly backchannelLogouts = this.#counter('oidc_backchannel_logouts_total', 'Back-channel logout notifications', ['outcome']);

  readonly databaseDuration = new Histogram({
    name: 'mongodb_command_duration_seconds', help: 'MongoDB commands by name and outcome',
    labelNames: ['command', 'outcome'] as const, buckets: DB_BUCKETS, registers: [this.registry],
  });
  readonly databaseHeartbeatFailures = this.#counter('mongodb_heartbeat_failures_total', 'Failed MongoDB server heartbeats (database unreachable)');

  /** Label-bound series, looked up by the label values themselves (no key string built per
   * request): resolving labels costs more than the observation itself on the hot path
   * (bench). Both key spaces are bounded. */
  readonly #requestSeries = new Map<string, Map<number, Map<string, { observe(seconds: number): void }>>>();
  readonly #issuedSeries = new Map<string, Map<string, { inc(): void }>>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const byStatus = getOrAdd(this.#requestSeries, route, () => new Map());
    const byMethod = getOrAdd(byStatus, status, () => new Map());
    const series = getOrAdd(byMethod, method, () => this.httpDuration.labels({ method, route, status: String(status) }));
    series.observe(seconds);
  }

  /** One token issued at the token endpoint, by the grant type oidc-provider accepted. */
  tokenIssued(grantType: string, tokenType: string): void {
    const byTokenType = getOrAdd(this.#issuedSeries, grantType, () => new Map());
    getOrAdd(byTokenType, tokenType, () => this.tokensIssued.labels({ grant_type: grantType, token_type: tokenType })).inc();
  }

  /** The security events that are also series. */
  securityEvent(type: SecurityEventType, detail?: Record<string, unknown>): void {
    switch (type) {
      case 'refresh_token.reuse_detected': return this.reuseDetections.inc();
      case 'refresh_token.family_revoked': return this.familyRevocations.inc({ reason: detail?.reason === 'reuse' ? 'reuse' : 'revocation' });
      case 'refresh_token.grace_retry': return this.graceRetries.inc();
      case 'user.revoked':
      case 'user.disabled':
        this.adminRevocations.inc({ kind: type === 'user.revoked' ? 'user' : 'user_disabled' });
        return this.#adminBackchannelLogouts(detail);
      case 'grant.revoked': return this.adminRevocations.inc({ kind: 'grant' });
      default: return undefined;
    }
  }

  /** An admin revocation sends its logout tokens itself (oidc-provider's events only cover
   * RP-initiated logout); its event carries the counts. */
  #adminBackchannelLogouts(detail?: Record<string, unknown>): void {
    const sent = Number(detail?.backchannel_logouts_sent ?? 0);
    const failed = Number(detail?.backchannel_logouts_failed ?? 0);
    if (sent > 0) this.backchannelLogouts.inc({ outcome: 'sent' }, sent);
    if (failed > 0) this.backchannelLogouts.inc({ outcome: 'failed' }, failed);
  }

  #counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}

function getOrAdd<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}
