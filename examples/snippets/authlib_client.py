"""Sign in from Python with Authlib: open the printed URL, sign in, paste the URL you land on.
Environment: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI (AUTHLIB_INSECURE_TRANSPORT=1 for http)."""
import json
import os
import sys

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

issuer = os.environ['ISSUER']
metadata = requests.get(f'{issuer}/.well-known/openid-configuration', timeout=10).json()
session = OAuth2Session(os.environ['CLIENT_ID'], os.environ['CLIENT_SECRET'], scope='openid profile email',
                        redirect_uri=os.environ['REDIRECT_URI'], code_challenge_method='S256')
verifier, nonce = generate_token(48), generate_token(24)
url, state = session.create_authorization_url(metadata['authorization_endpoint'], code_verifier=verifier, nonce=nonce)
print(url, flush=True)

token = session.fetch_token(metadata['token_endpoint'], authorization_response=sys.stdin.readline().strip(),
                            state=state, code_verifier=verifier)
keys = JsonWebKey.import_key_set(requests.get(metadata['jwks_uri'], timeout=10).json())
claims = jwt.decode(token['id_token'], keys, claims_cls=CodeIDToken,
                    claims_options={'iss': {'essential': True, 'value': metadata['issuer']}},
                    claims_params={'nonce': nonce, 'client_id': session.client_id})
claims.validate()  # signature above; here iss, aud, exp, iat and nonce
userinfo = session.get(metadata['userinfo_endpoint'], timeout=10).json()
print(json.dumps({'id_token_claims': dict(claims), 'userinfo': userinfo}))
