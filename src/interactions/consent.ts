import type Provider from 'oidc-provider';
import { errors, type InteractionResults } from 'oidc-provider';

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

/**
 * Records what the user approved on the consent page in a Grant: the missing OIDC
 * scopes and claims and the API scopes per resource.
 */
export async function approveConsent(provider: Provider, details: Details): Promise<NonNullable<InteractionResults['consent']>> {
  const { prompt, params, session, grantId: existingGrantId } = details;
  const missing = prompt.details as {
    missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]>;
  };

  const grant = existingGrantId
    ? await provider.Grant.find(existingGrantId)
    : new provider.Grant({ accountId: session?.accountId, clientId: String(params.client_id) });
  if (!grant) throw new errors.InvalidRequest('the grant of this interaction was revoked, start again');

  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  // An existing grant is updated in place; only a new one must be named in the result.
  return existingGrantId ? {} : { grantId };
}
