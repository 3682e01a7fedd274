import express from 'express';
import { auth, requiresAuth } from 'express-openid-connect';

export function createApp(issuer: string, clientId: string, clientSecret: string, baseURL: string) {
  const app = express();
  app.use(auth({
    issuerBaseURL: issuer,
    baseURL, // this app's URL; register <baseURL>/callback as its redirect URI
    clientID: clientId,
    clientSecret,
    secret: process.env.SESSION_SECRET ?? 'a long random string that encrypts the session cookie',
    authRequired: false,
    authorizationParams: { response_type: 'code', scope: 'openid profile email' },
  }));
  // The ID token carries the granted scopes' claims, so req.oidc.user is the whole profile.
  app.get('/profile', requiresAuth(), (req, res) => res.json(req.oidc.user));
  return app;
}
