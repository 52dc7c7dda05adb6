"""The authorisation server: OAuth 2 / OpenID Connect with SMART App Launch 2, logins,
sessions. Start at app.py (the routes and `install`); docs/oauth.md tells how to use it.

    app.py             routes, OAuthServer (what the endpoints share), install(app)
    authorize.py       /oauth2/authorize, patient picker, consent; create_launch (EHR launch)
    token_endpoint.py  /oauth2/token: authorization_code + PKCE, refresh_token, client_credentials
    endpoints.py       discovery, JWKS, introspection, revocation, registration, userinfo
    grants.py          what a grant holds; issuing access, id and refresh tokens
    clients.py         registered clients; client authentication (secret, private_key_jwt)
    scopes.py          SMART v2/v1 scopes
    login.py           built-in ID-porten / HelseID style logins (demo mode)
    external.py        the real ID-porten / HelseID (login_mode=external)
    sessions.py        web sessions, CSRF; current_session(request) for the portals
    store.py           the records in the database; the revocation list
    people.py          Patient / Practitioner behind a login
"""
