import * as client from 'openid-client';

/**
 * A command-line app signing its user in with the device authorization grant (RFC 8628):
 * it shows a short code, the user enters it on a phone or laptop, and the app polls for tokens.
 */
export async function signInOnAnotherDevice(issuer: string, clientId: string, show: (message: string) => void) {
  const config = await client.discovery(new URL(issuer), clientId, undefined, client.None(),
    issuer.startsWith('http:') ? { execute: [client.allowInsecureRequests] } : undefined);
  const started = await client.initiateDeviceAuthorization(config, { scope: 'openid offline_access' });
  show(`Open ${started.verification_uri} and enter ${started.user_code}`);
  // Waits `interval` seconds between polls and backs off on slow_down, as the RFC asks.
  return client.pollDeviceAuthorizationGrant(config, started);
}
