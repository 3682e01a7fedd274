// A browser app as a public client: no secret, authorization code flow with PKCE (S256),
// which oidc-client-ts does by default. Register it with "token_endpoint_auth_method": "none".
const { authority, client_id } = JSON.parse(document.getElementById('oidc-config').textContent);
const userManager = new oidc.UserManager({
  authority,
  client_id,
  redirect_uri: new URL('/', location.href).href,
  scope: 'openid profile email',
});
const show = (user) => { document.getElementById('profile').textContent = JSON.stringify(user.profile, null, 2); };

if (new URLSearchParams(location.search).has('code')) {
  show(await userManager.signinRedirectCallback()); // checks state, redeems the code with the verifier
  history.replaceState(null, '', location.pathname);
} else {
  const user = await userManager.getUser();
  if (user) show(user);
  document.getElementById('login').onclick = () => userManager.signinRedirect();
}
