/**
 * What tokens say about how the user signed in: `acr` (OpenID Connect Core §2) and `amr`
 * (RFC 8176). The multi-factor URI is the one Auth0 and others use for step-up.
 */
export const MFA_ACR = 'http://schemas.openid.net/pape/policies/2007/06/multi-factor';
/** A sign-in with a password only. */
export const PASSWORD_ACR = 'urn:oidc-server:acr:pwd';
export const ACR_VALUES = [PASSWORD_ACR, MFA_ACR] as const;

/** A second step's kind, as RFC 8176 names it: `otp` for app codes and recovery codes. */
export type SecondStepKind = 'otp';

/** amr and acr of a password sign-in, with or without a second step. */
export function signInMethods(second?: SecondStepKind): { amr: string[]; acr: string } {
  return second ? { amr: ['pwd', second, 'mfa'], acr: MFA_ACR } : { amr: ['pwd'], acr: PASSWORD_ACR };
}

/** Whether an authorization request asks for a second step (`acr_values`, space-separated). */
export function asksForMfa(acrValues: unknown): boolean {
  return typeof acrValues === 'string' && acrValues.split(' ').includes(MFA_ACR);
}
