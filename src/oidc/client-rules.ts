import { errors, type ClientMetadata } from 'oidc-provider';

/**
 * Client metadata naming the APIs (by audience) whose access tokens this client may
 * introspect: the client is a resource server of those APIs (RFC 7662 §4).
 */
export const RESOURCE_SERVER_AUDIENCES = 'resource_server_audiences';

/**
 * Rules on a whole client that oidc-provider's schema does not know. Run by our
 * extraClientMetadata validator, so they hold wherever oidc-provider builds a client:
 * admin registration and update, and loading a stored record (a legacy record that
 * breaks them fails to load, so it can mint nothing).
 * Whether each named audience is a registered API is checked where clients are registered
 * (src/admin/clients.ts): registrations change at run time, this check must not.
 */
export function validateClientRules(metadata: ClientMetadata): void {
  const isPublic = metadata.token_endpoint_auth_method === 'none';
  // RFC 6749 §4.4: client_credentials is for confidential clients only; a public client's
  // id is no secret, so anyone knowing it could mint tokens.
  if (isPublic && metadata.grant_types?.includes('client_credentials')) {
    throw new errors.InvalidClientMetadata('client_credentials requires a confidential client (token_endpoint_auth_method other than none)');
  }

  const registered: unknown = metadata[RESOURCE_SERVER_AUDIENCES];
  if (registered === undefined) return;
  if (!Array.isArray(registered) || !registered.every((aud) => typeof aud === 'string')) {
    throw new errors.InvalidClientMetadata(`${RESOURCE_SERVER_AUDIENCES} must be an array of strings`);
  }
  if (isPublic) {
    throw new errors.InvalidClientMetadata(`${RESOURCE_SERVER_AUDIENCES} requires a confidential client`);
  }
}
