// Run by the mongo image once, on the first start against an empty volume (before
// authentication is on): the provider's own user, allowed to read and write its database only.
db.getSiblingDB('oidc').createUser({
  user: process.env.MONGO_PROVIDER_USERNAME,
  pwd: process.env.MONGO_PROVIDER_PASSWORD,
  roles: [{ role: 'readWrite', db: 'oidc' }],
});
