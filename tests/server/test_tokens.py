"""Bearer token verification and the development signing key (server/auth/tokens.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from server.auth.tokens import (
    DevSigningKey,
    InvalidToken,
    JwksUnavailable,
    TokenVerifier,
    VerifiedToken,
    bearer_token,
)

ISSUER = "https://idp.example.test/realms/samplan"
AUDIENCE = "samplan"
KID = "main-key"
HSA_ID = "SE2321000016-ABCD"


# --------------------------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(value: dict[str, Any]) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def now() -> datetime:
    return datetime.now(UTC)


def std_claims(**overrides: Any) -> dict[str, Any]:
    t = int(now().timestamp())
    claims: dict[str, Any] = {"iss": ISSUER, "sub": "user-1", "aud": AUDIENCE, "iat": t, "nbf": t, "exp": t + 600}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def sign(claims: dict[str, Any], key: RSAKey | ECKey, *, alg: str = "RS256", kid: str | None = KID) -> str:
    header: dict[str, Any] = {"alg": alg}
    if kid is not None:
        header["kid"] = kid
    return jwt.encode(header, dict(claims), key, algorithms=[alg])


def public_jwks(*keys: RSAKey | ECKey) -> dict[str, Any]:
    return {"keys": [dict(k.as_dict(private=False)) for k in keys]}


def rsa_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


async def reason(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as info:
        await verifier.verify(token)
    assert token not in str(info.value) or not token  # never echo the token
    return info.value.reason


# --------------------------------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def main_key() -> RSAKey:
    return rsa_key(KID)


@pytest.fixture(scope="module")
def impostor_key() -> RSAKey:
    """A different key that claims the same kid."""
    return rsa_key(KID)


@pytest.fixture(scope="module")
def dev_key(tmp_path_factory: pytest.TempPathFactory) -> DevSigningKey:
    return DevSigningKey.load_or_create(tmp_path_factory.mktemp("dev") / "keys" / "dev-signing-key.json")


@pytest.fixture
def verifier(main_key: RSAKey) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256", "ES256"], jwks=public_jwks(main_key))


# --------------------------------------------------------------------------------------------------------------------
# DevSigningKey + round trip
# --------------------------------------------------------------------------------------------------------------------


async def test_dev_token_round_trip(dev_key: DevSigningKey) -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"], jwks=dev_key.jwks())
    token = dev_key.issue(subject="anna", issuer=ISSUER, audience=AUDIENCE,
                          claims={"hsa_id": HSA_ID, "roles": ["nurse"]})

    verified = await verifier.verify(token)

    assert isinstance(verified, VerifiedToken)
    assert verified.subject == "anna"
    assert verified.claim("hsa_id") == HSA_ID
    assert verified.claim("roles") is None  # not a string
    assert verified.claim("absent") is None
    assert verified.claims["roles"] == ["nurse"]
    assert {"iss", "sub", "aud", "iat", "nbf", "exp", "jti"} <= set(verified.claims)


def test_dev_token_header_and_claims(dev_key: DevSigningKey) -> None:
    issued = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    token = dev_key.issue(subject="anna", issuer=ISSUER, audience=AUDIENCE, now=issued, lifetime=timedelta(minutes=5))
    header_segment, payload_segment, _ = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_segment + "=="))
    payload = json.loads(base64.urlsafe_b64decode(payload_segment + "=="))

    assert header == {"alg": "RS256", "kid": dev_key.kid, "typ": "JWT"}
    t = int(issued.timestamp())
    assert payload["iat"] == payload["nbf"] == t
    assert payload["exp"] == t + 300
    assert (payload["iss"], payload["sub"], payload["aud"]) == (ISSUER, "anna", AUDIENCE)
    assert len(payload["jti"]) == 36
    other = dev_key.issue(subject="anna", issuer=ISSUER, audience=AUDIENCE, now=issued)
    assert json.loads(base64.urlsafe_b64decode(other.split(".")[1] + "=="))["jti"] != payload["jti"]


def test_dev_token_refuses_to_redefine_registered_claims(dev_key: DevSigningKey) -> None:
    with pytest.raises(ValueError, match="redefine"):
        dev_key.issue(subject="anna", issuer=ISSUER, audience=AUDIENCE, claims={"exp": 1})


def test_dev_key_jwks_is_public_only(dev_key: DevSigningKey) -> None:
    jwks = dev_key.jwks()
    assert len(jwks["keys"]) == 1
    (key,) = jwks["keys"]
    assert key["kid"] == dev_key.kid
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


def test_dev_key_load_or_create_is_stable_and_private(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "dev-signing-key.json"
    first = DevSigningKey.load_or_create(path)
    second = DevSigningKey.load_or_create(path)

    assert first.kid == second.kid
    assert first.jwks() == second.jwks()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in path.parent.iterdir() if p != path]  # no temp files left behind


def test_dev_key_concurrent_creation_agrees(tmp_path: Path) -> None:
    path = tmp_path / "dev-signing-key.json"
    barrier = threading.Barrier(4)

    def create(_: int) -> str:
        barrier.wait()
        return DevSigningKey.load_or_create(path).kid

    with ThreadPoolExecutor(4) as pool:
        kids = set(pool.map(create, range(4)))

    assert kids == {DevSigningKey.load_or_create(path).kid}


def test_dev_key_tightens_loose_permissions(tmp_path: Path) -> None:
    path = tmp_path / "dev-signing-key.json"
    kid = DevSigningKey.load_or_create(path).kid
    os.chmod(path, 0o644)
    assert DevSigningKey.load_or_create(path).kid == kid
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_dev_key_corrupt_file_is_an_error_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "dev-signing-key.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="development signing key"):
        DevSigningKey.load_or_create(path)
    assert path.read_text() == "{not json"


# --------------------------------------------------------------------------------------------------------------------
# claims
# --------------------------------------------------------------------------------------------------------------------


async def test_valid_token(verifier: TokenVerifier, main_key: RSAKey) -> None:
    verified = await verifier.verify(sign(std_claims(hsa_id=HSA_ID), main_key))
    assert verified.subject == "user-1"
    assert verified.claim("hsa_id") == HSA_ID


async def test_expired(verifier: TokenVerifier, main_key: RSAKey) -> None:
    t = int(now().timestamp())
    token = sign(std_claims(iat=t - 4000, nbf=t - 4000, exp=t - 3600), main_key)
    assert await reason(verifier, token) == "token expired"


async def test_expiry_within_leeway_passes(verifier: TokenVerifier, main_key: RSAKey) -> None:
    t = int(now().timestamp())
    await verifier.verify(sign(std_claims(exp=t - 10), main_key))  # leeway is 30 s


async def test_dev_token_expired_at_later_now(verifier: TokenVerifier, dev_key: DevSigningKey) -> None:
    dev_verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"], jwks=dev_key.jwks())
    token = dev_key.issue(subject="anna", issuer=ISSUER, audience=AUDIENCE, lifetime=timedelta(hours=1))
    await dev_verifier.verify(token, now=now() + timedelta(minutes=59))
    with pytest.raises(InvalidToken, match="token expired"):
        await dev_verifier.verify(token, now=now() + timedelta(hours=2))
    # naive datetimes are taken as UTC
    naive_later = (now() + timedelta(hours=2)).replace(tzinfo=None)
    with pytest.raises(InvalidToken, match="token expired"):
        await dev_verifier.verify(token, now=naive_later)


async def test_not_yet_valid(verifier: TokenVerifier, main_key: RSAKey) -> None:
    t = int(now().timestamp())
    token = sign(std_claims(nbf=t + 600, exp=t + 1200), main_key)
    assert await reason(verifier, token) == "token not yet valid"


async def test_issued_in_the_future(verifier: TokenVerifier, main_key: RSAKey) -> None:
    t = int(now().timestamp())
    token = sign(std_claims(iat=t + 600, nbf=None, exp=t + 1200), main_key)
    assert await reason(verifier, token) == "token issued in the future"


async def test_wrong_issuer(verifier: TokenVerifier, main_key: RSAKey) -> None:
    token = sign(std_claims(iss="https://evil.example.test"), main_key)
    assert await reason(verifier, token) == "wrong issuer"


async def test_wrong_audience(verifier: TokenVerifier, main_key: RSAKey) -> None:
    token = sign(std_claims(aud="another-api"), main_key)
    assert await reason(verifier, token) == "wrong audience"


async def test_audience_list_containing_ours_passes(verifier: TokenVerifier, main_key: RSAKey) -> None:
    verified = await verifier.verify(sign(std_claims(aud=["account", AUDIENCE]), main_key))
    assert verified.claims["aud"] == ["account", AUDIENCE]


async def test_audience_list_without_ours_fails(verifier: TokenVerifier, main_key: RSAKey) -> None:
    token = sign(std_claims(aud=["account", "another-api"]), main_key)
    assert await reason(verifier, token) == "wrong audience"


@pytest.mark.parametrize("claim", ["exp", "iss", "aud", "sub"])
async def test_missing_required_claim(verifier: TokenVerifier, main_key: RSAKey, claim: str) -> None:
    token = sign(std_claims(**{claim: None}), main_key)
    assert await reason(verifier, token) == f"missing claim: {claim}"


@pytest.mark.parametrize("value", ["tomorrow", True, None, float("inf")])
async def test_exp_must_be_a_number(verifier: TokenVerifier, main_key: RSAKey, value: Any) -> None:
    claims = std_claims()
    claims["exp"] = value  # None is JSON null, inf is written as Infinity by json.dumps
    assert await reason(verifier, sign(claims, main_key)) == "invalid claim: exp"


async def test_empty_subject_rejected(verifier: TokenVerifier, main_key: RSAKey) -> None:
    assert await reason(verifier, sign(std_claims(sub=""), main_key)) == "invalid claim: sub"


# --------------------------------------------------------------------------------------------------------------------
# signatures, keys and algorithms
# --------------------------------------------------------------------------------------------------------------------


async def test_tampered_payload_character(verifier: TokenVerifier, main_key: RSAKey) -> None:
    header, payload, signature = sign(std_claims(), main_key).split(".")
    i = len(payload) // 2
    flipped = "A" if payload[i] != "A" else "B"
    token = ".".join([header, payload[:i] + flipped + payload[i + 1:], signature])
    assert await reason(verifier, token) == "bad signature"


async def test_tampered_claims(verifier: TokenVerifier, main_key: RSAKey) -> None:
    header, _, signature = sign(std_claims(), main_key).split(".")
    token = ".".join([header, b64json(std_claims(sub="admin")), signature])
    assert await reason(verifier, token) == "bad signature"


async def test_other_key_with_same_kid(verifier: TokenVerifier, impostor_key: RSAKey) -> None:
    assert await reason(verifier, sign(std_claims(), impostor_key)) == "bad signature"


async def test_unknown_kid(verifier: TokenVerifier) -> None:
    stranger = rsa_key("stranger")
    assert await reason(verifier, sign(std_claims(), stranger, kid="stranger")) == "unknown key"


async def test_token_without_kid_uses_the_only_key(verifier: TokenVerifier, main_key: RSAKey) -> None:
    await verifier.verify(sign(std_claims(), main_key, kid=None))


async def test_token_without_kid_is_unknown_among_several_keys(main_key: RSAKey) -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"],
                             jwks=public_jwks(main_key, rsa_key("second")))
    assert await reason(verifier, sign(std_claims(), main_key, kid=None)) == "unknown key"


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none_rejected(main_key: RSAKey, alg: str) -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256", "none"],
                             jwks=public_jwks(main_key))
    token = f"{b64json({'alg': alg, 'typ': 'JWT'})}.{b64json(std_claims())}."
    assert await reason(verifier, token) == "algorithm not allowed"


async def test_hs256_with_public_key_as_secret_rejected(main_key: RSAKey) -> None:
    """The classic confusion attack: HMAC-sign with the (public) RSA key bytes, hoping they are used as secret."""
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256", "HS256"],
                             jwks=public_jwks(main_key))
    public = main_key.public_key
    assert isinstance(public, rsa.RSAPublicKey)
    secrets = [
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
        json.dumps(main_key.as_dict(private=False)).encode(),
    ]
    for secret in secrets:
        signing_input = f"{b64json({'alg': 'HS256', 'typ': 'JWT', 'kid': KID})}.{b64json(std_claims())}"
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert await reason(verifier, f"{signing_input}.{b64(signature)}") == "algorithm not allowed"


def test_symmetric_only_allow_list_is_refused(main_key: RSAKey) -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["HS256", "none"], jwks=public_jwks(main_key))


async def test_alg_not_in_allow_list(main_key: RSAKey) -> None:
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["ES256"], jwks=public_jwks(main_key))
    assert await reason(verifier, sign(std_claims(), main_key)) == "algorithm not allowed"


async def test_alg_not_matching_key_type(verifier: TokenVerifier) -> None:
    """ES256 is allowed, but the kid names an RSA key."""
    ec = ECKey.generate_key("P-256")
    token = sign(std_claims(), ec, alg="ES256", kid=KID)
    assert await reason(verifier, token) == "key not usable for algorithm"


async def test_es256_key(main_key: RSAKey) -> None:
    ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1", "use": "sig"})
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256", "ES256"],
                             jwks=public_jwks(main_key, ec))
    assert (await verifier.verify(sign(std_claims(), ec, alg="ES256", kid="ec-1"))).subject == "user-1"


async def test_critical_header_rejected(verifier: TokenVerifier, main_key: RSAKey) -> None:
    private = main_key.private_key
    assert isinstance(private, rsa.RSAPrivateKey)
    header = {"alg": "RS256", "kid": KID, "crit": ["x-policy"], "x-policy": 1}
    signing_input = f"{b64json(header)}.{b64json(std_claims())}"
    signature = private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    token = f"{signing_input}.{b64(signature)}"
    assert await reason(verifier, token) == "unsupported token header"


@pytest.mark.parametrize(
    "token",
    [
        "abc",
        "",
        "a.b.c",
        "...",
        "a.b.c.d.e",
        f"{b64(b'not json')}.{b64json({'sub': 'x'})}.c2ln",
        f"{b64json({'typ': 'JWT'})}.{b64json({'sub': 'x'})}.c2ln",  # no alg
        f"{b64(b'[1, 2]')}.{b64json({'sub': 'x'})}.c2ln",
        "ä.ö.å",
    ],
)
async def test_malformed(verifier: TokenVerifier, token: str) -> None:
    assert await reason(verifier, token) == "malformed token"


async def test_payload_not_json_after_valid_signature(verifier: TokenVerifier, main_key: RSAKey) -> None:
    from joserfc import jws

    token = jws.serialize_compact({"alg": "RS256", "kid": KID}, b"not json", main_key, algorithms=["RS256"])
    assert await reason(verifier, token) == "malformed token"


def test_verifier_needs_exactly_one_key_source(main_key: RSAKey) -> None:
    with pytest.raises(ValueError, match="jwks"):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"])
    with pytest.raises(ValueError, match="not both"):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"], jwks=public_jwks(main_key),
                      jwks_url="http://127.0.0.1:1/jwks")


def test_static_jwks_without_usable_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="no usable"):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"],
                      jwks={"keys": [{"kty": "oct", "k": b64(b"0123456789abcdef0123456789abcdef"), "kid": KID}]})


# --------------------------------------------------------------------------------------------------------------------
# bearer_token
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [("Bearer abc.def.ghi", "abc.def.ghi"), ("bearer xyz", "xyz"), ("BEARER  xyz ", "xyz")],
)
def test_bearer_token(header: str, expected: str) -> None:
    assert bearer_token(header) == expected


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic dXNlcjpwYXNz", "abc.def.ghi"])
def test_bearer_token_missing(header: str | None) -> None:
    with pytest.raises(InvalidToken) as info:
        bearer_token(header)
    assert info.value.reason == "missing bearer token"


def test_bearer_token_with_extra_parts() -> None:
    with pytest.raises(InvalidToken, match="malformed token"):
        bearer_token("Bearer abc def")


# --------------------------------------------------------------------------------------------------------------------
# JWKS over HTTP (a real server on 127.0.0.1, no mocking)
# --------------------------------------------------------------------------------------------------------------------


@dataclass
class JwksServer:
    url: str
    document: dict[str, Any]
    status: int = 200
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def jwks_server(main_key: RSAKey, monkeypatch: pytest.MonkeyPatch) -> Iterator[JwksServer]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    state = JwksServer(url="", document=public_jwks(main_key))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with state.lock:
                state.requests += 1
                body = json.dumps(state.document).encode()
                status = state.status
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def url_verifier(url: str, *, cache_seconds: int = 300) -> TokenVerifier:
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256"], jwks_url=url,
                         jwks_cache_seconds=cache_seconds)


async def test_jwks_url_is_fetched_once_and_cached(jwks_server: JwksServer, main_key: RSAKey) -> None:
    verifier = url_verifier(jwks_server.url)
    await verifier.verify(sign(std_claims(sub="a"), main_key))
    await verifier.verify(sign(std_claims(sub="b"), main_key))
    assert jwks_server.requests == 1


async def test_jwks_cache_expiry_refetches(jwks_server: JwksServer, main_key: RSAKey) -> None:
    verifier = url_verifier(jwks_server.url, cache_seconds=0)
    await verifier.verify(sign(std_claims(), main_key))
    await verifier.verify(sign(std_claims(), main_key))
    assert jwks_server.requests == 2


async def test_jwks_key_rotation_refetches_once(jwks_server: JwksServer, main_key: RSAKey) -> None:
    verifier = url_verifier(jwks_server.url)
    await verifier.verify(sign(std_claims(), main_key))
    assert jwks_server.requests == 1

    rotated = rsa_key("rotated")
    jwks_server.document = public_jwks(rotated)  # the provider rotates its key
    verified = await verifier.verify(sign(std_claims(sub="after-rotation"), rotated, kid="rotated"))
    assert verified.subject == "after-rotation"
    assert jwks_server.requests == 2

    # another unknown kid right away: no new fetch within 30 s
    stranger = rsa_key("stranger")
    assert await reason(verifier, sign(std_claims(), stranger, kid="stranger")) == "unknown key"
    assert jwks_server.requests == 2
    # the old key is gone from the provider's set, and the cache was replaced
    assert await reason(verifier, sign(std_claims(), main_key)) == "unknown key"


async def test_jwks_ignores_symmetric_keys(jwks_server: JwksServer, main_key: RSAKey) -> None:
    oct_key = {"kty": "oct", "kid": "shared", "k": b64(b"0123456789abcdef0123456789abcdef")}
    jwks_server.document = {"keys": [oct_key, *public_jwks(main_key)["keys"]]}
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, algorithms=["RS256", "HS256"],
                             jwks_url=jwks_server.url)
    await verifier.verify(sign(std_claims(), main_key))
    signing_input = f"{b64json({'alg': 'HS256', 'kid': 'shared'})}.{b64json(std_claims())}"
    signature = hmac.new(b"0123456789abcdef0123456789abcdef", signing_input.encode(), hashlib.sha256).digest()
    assert await reason(verifier, f"{signing_input}.{b64(signature)}") == "algorithm not allowed"


async def test_jwks_server_error_is_unavailable(jwks_server: JwksServer, main_key: RSAKey) -> None:
    jwks_server.status = 500
    verifier = url_verifier(jwks_server.url)
    with pytest.raises(JwksUnavailable) as info:
        await verifier.verify(sign(std_claims(), main_key))
    assert isinstance(info.value, InvalidToken)
    assert info.value.reason == "key set unavailable"
    # a failed fetch is not retried immediately
    with pytest.raises(JwksUnavailable):
        await verifier.verify(sign(std_claims(), main_key))
    assert jwks_server.requests == 1


async def test_jwks_unreachable_is_unavailable(main_key: RSAKey) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    verifier = url_verifier(f"http://127.0.0.1:{port}/jwks")
    with pytest.raises(JwksUnavailable):
        await verifier.verify(sign(std_claims(), main_key))


async def test_jwks_url_bad_token_does_not_fetch(jwks_server: JwksServer) -> None:
    verifier = url_verifier(jwks_server.url)
    assert await reason(verifier, "abc") == "malformed token"
    assert await reason(verifier, f"{b64json({'alg': 'none'})}.{b64json(std_claims())}.") == "algorithm not allowed"
    assert jwks_server.requests == 0


async def test_jwks_refresh_failure_keeps_previous_keys(jwks_server: JwksServer, main_key: RSAKey) -> None:
    verifier = url_verifier(jwks_server.url, cache_seconds=0)  # every call wants a fresh key set
    await verifier.verify(sign(std_claims(), main_key))
    jwks_server.status = 503
    await verifier.verify(sign(std_claims(), main_key))  # refresh fails; the previous keys are still used
    assert jwks_server.requests == 2
