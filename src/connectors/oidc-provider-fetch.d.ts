// oidc-provider's outbound request helper (no typings): its special-use-address guard, then
// the `fetch` of the provider's configuration (which OUTBOUND_PRIVATE_NETWORKS=true unguards).
declare module 'oidc-provider/lib/helpers/fetch_request.js' {
  import type Provider from 'oidc-provider';

  export default function fetchRequest(provider: Provider, url: string | URL, options: object): Promise<Response>;
}
