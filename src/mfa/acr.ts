/**
 * What tokens say about how the user signed in: `acr` (OpenID Connect Core §2) and `amr`
 * (RFC 8176). The multi-factor URI is the one Auth0 and others use for step-up.
 */
export const MFA_ACR = 'http://schemas.openid.net/pape/policies/2007/06/multi-factor';
/** A sign-in with a password only. */
export const PASSWORD_ACR = 'urn:oidc-server:acr:pwd';
export const ACR_VALUES = [PASSWORD_ACR, MFA_ACR] as const;

/**
 * RFC 8176 names of what a sign-in used: `pwd`, `otp` (app and recovery codes), `hwk` / `swk`
 * (a passkey's key, device-bound or synced), `user` (the passkey's user verification).
 */
export type Method = 'pwd' | 'otp' | 'hwk' | 'swk' | 'user';

/** amr and acr of a sign-in: more than one kind of proof is multi-factor (`mfa`). */
export function signInMethods(methods: Method[] = ['pwd']): { amr: string[]; acr: string } {
  return methods.length > 1 ? { amr: [...methods, 'mfa'], acr: MFA_ACR } : { amr: methods, acr: PASSWORD_ACR };
}

/** Whether an authorization request asks for a second step (`acr_values`, space-separated). */
export function asksForMfa(acrValues: unknown): boolean {
  return typeof acrValues === 'string' && acrValues.split(' ').includes(MFA_ACR);
}
