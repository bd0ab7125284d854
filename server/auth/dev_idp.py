"""The development identity provider: a real OpenID Connect provider built on authlib's server classes.

Development mode only (`server/api/app.py` mounts it under `/dev-idp` when `settings.dev_mode`). It knows one
client, the UI (`samplan-ui`, secret `SAMPLAN_DEV_OIDC_CLIENT_SECRET`), and the users of the database; the
person at the browser picks a demo user on the login page instead of presenting a SITHS card.

- Authorization code flow with PKCE, S256 only and required (`authlib.oauth2.rfc7636.CodeChallenge`), plus
  OpenID Connect (`authlib.oidc.core.OpenIDCode`: an `id_token` for the `openid` scope).
- Access tokens are JWTs signed with the `DevSigningKey` (the key the API trusts in development mode) with
  iss = `OIDC_ISSUER`, aud = `OIDC_AUDIENCE`, sub = the user id, `hsa_id`, `preferred_username` and the
  configured user claim; they live `SAMPLAN_DEV_OIDC_ACCESS_TOKEN_SECONDS` (15 min) so refresh is exercised.
- Refresh tokens rotate on every use; presenting a used one again revokes its whole family (RFC 9700 4.14).
- Revocation (RFC 7009) and RP-initiated logout (`authlib.oidc.rpinitiated`).

Codes and refresh tokens are kept where every API instance finds them when `REDIS_URL` is set (Redis), else in the
process's memory (one API process; a restart signs everybody out): `dev_idp_store.py`. Stored by SHA-256 only.
The HTTP side (Litestar adapter, pages) is `dev_idp_routes.py`. Nothing here logs a token; authlib's own debug
logging (which would) is capped at INFO.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError, JsonRequest
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode, UserInfo
from authlib.oidc.core.util import create_half_hash
from authlib.oidc.rpinitiated import EndSessionEndpoint, EndSessionRequest

from server.auth.dev_idp_store import AuthorizationCode, DevUser, IdpStore, MemoryStore, RefreshToken
from server.auth.tokens import DevSigningKey
from server.settings import Settings

__all__ = ["SCOPES", "DevIdentityProvider", "DevUser"]

logging.getLogger("authlib").setLevel(max(logging.getLogger("authlib").level, logging.INFO))

SCOPES = ("openid", "profile")
_CODE_SECONDS = 120
_ID_TOKEN_SECONDS = 3600


class DevClient(ClientMixin):  # type: ignore[misc]  # authlib is untyped
    """The one registered client: a confidential web client (the UI) using code + refresh token."""

    def __init__(self, client_id: str, secret: str, redirect_uris: Iterable[str],
                 post_logout_redirect_uris: Iterable[str]) -> None:
        self.client_id = client_id
        self._secret = secret
        self.redirect_uris = tuple(redirect_uris)
        self.client_metadata: dict[str, Any] = {"post_logout_redirect_uris": list(post_logout_redirect_uris)}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        return " ".join(s for s in scope.split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris  # exact match only

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self._secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


class _PkceS256(CodeChallenge):  # type: ignore[misc]
    """PKCE is required for every client (not only public ones), and only with S256."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 - authlib's class attribute
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE with S256 is required.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code: AuthorizationCode) -> str:
        return authorization_code.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: AuthorizationCode) -> str:
        return authorization_code.code_challenge_method


class _CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        server: DevIdentityProvider = self.server
        data = request.payload.data
        server.store.add_code(code, AuthorizationCode(
            client_id=request.client.get_client_id(), redirect_uri=data.get("redirect_uri") or "",
            scope=request.scope or "", user=request.user, code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"], nonce=data.get("nonce"),
            auth_time=int(server.store.clock()), expires_at=server.store.clock() + _CODE_SECONDS))

    def query_authorization_code(self, code: str, client: DevClient) -> AuthorizationCode | None:
        server: DevIdentityProvider = self.server
        return server.store.code(code, client.get_client_id())

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        server: DevIdentityProvider = self.server
        server.store.delete_code(authorization_code)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> DevUser:
        return authorization_code.user


class _RotatingRefreshGrant(RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken | None:
        server: DevIdentityProvider = self.server
        return server.store.refresh_token(refresh_token)

    def authenticate_user(self, refresh_token: RefreshToken) -> DevUser:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        server: DevIdentityProvider = self.server
        server.store.rotate(refresh_token)


class _OpenIDCode(OpenIDCode):  # type: ignore[misc]
    def __init__(self, provider: DevIdentityProvider) -> None:
        super().__init__(require_nonce=False)
        self._provider = provider

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return self._provider.store.nonce_seen(request.payload.client_id, nonce)

    def encode_id_token(self, token: Mapping[str, Any], request: OAuth2Request) -> str:
        """The id_token, signed with the development key like the access tokens (aud = the client)."""
        code: AuthorizationCode | None = request.authorization_code
        claims: dict[str, Any] = {k: v for k, v in self.generate_user_info(request.user, token["scope"]).items()
                                  if k != "sub"}
        if code is not None:
            claims["auth_time"] = code.auth_time
            claims["amr"] = code.get_amr()
            if code.nonce:
                claims["nonce"] = code.nonce
        claims["at_hash"] = create_half_hash(token["access_token"], "RS256").decode("ascii")
        provider = self._provider
        return provider.key.issue(subject=request.user.id, issuer=provider.issuer,
                                  audience=request.client.get_client_id(), claims=claims,
                                  lifetime=timedelta(seconds=_ID_TOKEN_SECONDS))

    def generate_user_info(self, user: DevUser, scope: str) -> UserInfo:
        return self._provider.user_info(user, scope)


class _Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def query_token(self, token_string: str, token_type_hint: str | None) -> RefreshToken | None:
        server: DevIdentityProvider = self.server
        if token_type_hint == "access_token":  # noqa: S105 - a hint's name, not a secret
            return None  # access tokens are self-contained JWTs; they expire on their own
        return server.store.find_refresh_token(token_string)

    def revoke_token(self, token: RefreshToken, request: OAuth2Request) -> None:
        server: DevIdentityProvider = self.server
        server.store.revoke_family(token.family)


class _EndSession(EndSessionEndpoint):  # type: ignore[misc]
    def get_server_jwks(self) -> dict[str, Any]:
        server: DevIdentityProvider = self.server
        return server.key.jwks()

    def get_algorithms(self) -> list[str]:
        return ["RS256"]

    def is_post_logout_redirect_uri_legitimate(self, request: OAuth2Request, post_logout_redirect_uri: str,
                                               client: DevClient, logout_hint: str | None) -> bool:
        # The redirect URI is registered for the client (checked before); the provider keeps no login session a
        # forged logout could end, so returning to the client without an id_token_hint harms nobody.
        return True

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        server: DevIdentityProvider = self.server
        claims = end_session_request.id_token_claims
        client = end_session_request.client
        if claims and client is not None and isinstance(claims.get("sub"), str):
            server.store.revoke_user(client.get_client_id(), claims["sub"])


class DevIdentityProvider(AuthorizationServer):  # type: ignore[misc]
    """authlib's authorization server for the development provider. Framework-neutral: the Litestar adapter
    (`dev_idp_routes.py`) creates the requests (`create_oauth2_request`) and turns authlib's (status, body,
    headers) into responses (`handle_response`)."""

    def __init__(self, settings: Settings, key: DevSigningKey, *,
                 request_factory: Callable[[Any], OAuth2Request],
                 json_request_factory: Callable[[Any], JsonRequest],
                 response_factory: Callable[[int, Any, list[tuple[str, str]]], Any],
                 store: IdpStore | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.settings = settings
        self.key = key
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.store: IdpStore = store if store is not None else MemoryStore(clock=clock)
        self._request_factory = request_factory
        self._json_request_factory = json_request_factory
        self._response_factory = response_factory
        ui = settings.ui_public_url
        self.client = DevClient(settings.dev_client_id, settings.dev_client_secret,
                                redirect_uris=[f"{ui}/auth/callback"],
                                post_logout_redirect_uris=[f"{ui}/logged-out", f"{ui}/"])
        self.register_token_generator("default", self._generate_token)
        self.register_grant(_CodeGrant, [_PkceS256(required=True), _OpenIDCode(self)])
        self.register_grant(_RotatingRefreshGrant)
        self.register_endpoint(_Revocation)
        self.register_endpoint(_EndSession)

    # ---- authlib's framework hooks -------------------------------------------------------------------------------

    def query_client(self, client_id: str) -> DevClient | None:
        return self.client if client_id == self.client.client_id else None

    def save_token(self, token: Mapping[str, Any], request: OAuth2Request) -> None:
        refresh = token.get("refresh_token")
        if not refresh:
            return
        previous: RefreshToken | None = request.refresh_token
        family = previous.family if previous is not None else secrets.token_hex(16)
        lifetime = self.settings.dev_refresh_token_hours * 3600
        self.store.add_refresh_token(refresh, RefreshToken(
            client_id=request.client.get_client_id(), scope=token.get("scope", ""), user=request.user,
            family=family, expires_at=self.store.clock() + lifetime))

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        return self._request_factory(request)

    def create_json_request(self, request: Any) -> JsonRequest:
        return self._json_request_factory(request)

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Any:
        return self._response_factory(status, body, headers)

    # ---- tokens and claims ---------------------------------------------------------------------------------------

    def _generate_token(self, grant_type: str, client: DevClient, user: DevUser | None = None,
                        scope: str | None = None, expires_in: int | None = None,
                        include_refresh_token: bool = True) -> dict[str, Any]:
        assert user is not None
        lifetime = expires_in or self.settings.dev_access_token_seconds
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": self.access_token(user, client_id=client.get_client_id(), scope=scope or "",
                                              lifetime=lifetime),
            "expires_in": lifetime,
            "scope": scope or "",
        }
        if include_refresh_token:
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token

    def access_token(self, user: DevUser, *, client_id: str, scope: str, lifetime: int) -> str:
        """A JWT the API accepts: iss, aud, sub = user id, the user claim, hsa_id and preferred_username."""
        claims = {"hsa_id": user.hsa_id, "preferred_username": user.username, "client_id": client_id,
                  "scope": scope, "auth_time": int(self.store.clock())}
        claims[self.settings.user_claim] = user.claim(self.settings.user_claim)
        return self.key.issue(subject=user.id, issuer=self.issuer, audience=self.settings.oidc_audience,
                              claims=claims, lifetime=timedelta(seconds=lifetime))

    def user_info(self, user: DevUser, scope: str) -> UserInfo:
        info: dict[str, Any] = {"sub": user.id}
        if "profile" in (scope or "").split():
            info.update(name=user.display_name, preferred_username=user.username, hsa_id=user.hsa_id)
        return UserInfo(info)

    def metadata(self) -> dict[str, Any]:
        """The discovery document (OpenID Connect Discovery 1.0)."""
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/jwks",
            "revocation_endpoint": f"{base}/revoke",
            "end_session_endpoint": f"{base}/logout",
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "name",
                                 "preferred_username", "hsa_id"],
            "ui_locales_supported": ["sv"],
        }
