import type Koa from 'koa';
import mount from 'koa-mount';
import type Provider from 'oidc-provider';

import type { KeyMaterial } from '../config/keys.js';

/** Where our own routes get the provider from: read it per request, it is replaced when keys change. */
export interface ProviderSource {
  readonly provider: Provider;
}

/**
 * oidc-provider reads its `jwks` and cookie keys once, when it is constructed, and its own
 * advice for rotating keys is to reload the process with a reordered JWKS. This does that
 * reload in-process: a new Provider for each new key set (about 3 ms), swapped in whole, so
 * a request runs entirely on one instance and one key set. Everything a provider keeps
 * between requests lives in MongoDB, so nothing is lost in the swap.
 */
export class ProviderHost implements ProviderSource {
  readonly #build: (material: KeyMaterial) => Provider;
  #provider!: Provider;
  #app!: Koa.Middleware;

  constructor(build: (material: KeyMaterial) => Provider, material: KeyMaterial) {
    this.#build = build;
    this.install(material);
  }

  get provider(): Provider {
    return this.#provider;
  }

  install(material: KeyMaterial): void {
    const provider = this.#build(material);
    this.#app = mount(provider);
    this.#provider = provider;
  }

  /** The provider's routes, always those of the newest instance. */
  readonly middleware: Koa.Middleware = (ctx, next) => this.#app(ctx, next);
}
