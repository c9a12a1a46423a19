"""CDS Hooks client JWTs: the sandbox's token accepted as it signs it, and every refusal the
specification asks for (no JWT, expired, wrong aud, unknown issuer or kid, alg none, HS256
signed with the public key, a replayed jti), through ``CdsClients`` and through the guard."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from serving.auth import TokenStore, hash_token
from serving.cds_auth import (
    CdsAuthError,
    CdsClients,
    CdsConfigError,
    ReplayCache,
    load_issuers,
)
from serving.guard import GuardMiddleware

SHARED = Path(__file__).resolve().parents[3] / "shared" / "cds-hooks"
SANDBOX = "https://sandbox.cds-hooks.org"
PUBLIC_URL = "http://127.0.0.1:3000"
SERVICE_PATH = "/cds-services/il2select-first-line"
AUDIENCE = PUBLIC_URL + SERVICE_PATH


def sandbox_key() -> dict:
    return json.loads((SHARED / "sandbox-jwk-keypair.json").read_text())["keys"][0]


def sandbox_jwt(aud: str = AUDIENCE, **changes) -> str:
    """A JWT as the sandbox signs it (``../shared/cds-hooks/README.md``)."""
    key = sandbox_key()
    now = int(time.time())
    claims = {"iss": SANDBOX, "aud": aud, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    headers = {"kid": key["kid"], "jku": f"{SANDBOX}/.well-known/jwks.json", "typ": "JWT"}
    return jwt.encode(claims, jwt.PyJWK(key).key, algorithm="ES384", headers=headers)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(header: dict, claims: dict, secret: bytes | None) -> str:
    """A JWT assembled by hand (PyJWT refuses to make the forgeries tested here)."""
    signing = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    if secret is None:
        return signing + "."
    return signing + "." + b64(hmac.new(secret, signing.encode(), hashlib.sha256).digest())


def claims_now(aud: str = AUDIENCE) -> dict:
    now = int(time.time())
    return {"iss": SANDBOX, "aud": aud, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}


@pytest.fixture
def clients() -> CdsClients:
    return CdsClients(load_issuers({SANDBOX: SHARED / "sandbox-jwks.json"}), PUBLIC_URL)


def test_the_sandbox_token_is_accepted(clients):
    assert clients.verify(sandbox_jwt(), SERVICE_PATH) == f"cds:{SANDBOX}"
    assert clients.verify(sandbox_jwt(aud=[AUDIENCE]), SERVICE_PATH) == f"cds:{SANDBOX}"


def test_the_public_url_may_end_with_a_slash():
    keys = load_issuers({SANDBOX: SHARED / "sandbox-jwks.json"})
    assert CdsClients(keys, PUBLIC_URL + "/").verify(sandbox_jwt(), SERVICE_PATH)


@pytest.mark.parametrize(
    ("token", "words"),
    [
        (lambda: sandbox_jwt(exp=int(time.time()) - 120), "expired"),
        (lambda: sandbox_jwt(aud=PUBLIC_URL + "/cds-services/other"), "aud must be"),
        (lambda: sandbox_jwt(aud=PUBLIC_URL), "aud must be"),
        (lambda: sandbox_jwt(iss="https://evil.example.org"), "not a trusted"),
        (lambda: sandbox_jwt(jti=None), "no jti"),
        (lambda: sandbox_jwt(iat=None), "no iat"),
        (lambda: sandbox_jwt(exp=None), "no exp"),
        (lambda: sandbox_jwt(iat=int(time.time()) + 600), "future"),
        (lambda: sandbox_jwt(exp=int(time.time()) + 7200), "too long a life"),
        (lambda: "not-a-jwt.at.all", "not a well-formed JWT"),
        (lambda: sandbox_jwt(exp=str(int(time.time()) + 300)), "exp must be a number"),
        (lambda: sandbox_jwt(iat=str(int(time.time()))), "iat must be a number"),
        (lambda: sandbox_jwt(jti=""), "jti must be a text of 1 to"),
        (lambda: sandbox_jwt(jti="j" * 257), "jti must be a text of 1 to"),
    ],
    ids=[
        "expired",
        "wrong-aud",
        "aud-is-the-base-url",
        "unknown-issuer",
        "no-jti",
        "no-iat",
        "no-exp",
        "iat-in-the-future",
        "lives-too-long",
        "garbage",
        "exp-as-text",  # PyJWT reads it with int(): it must still not reach arithmetic
        "iat-as-text",
        "empty-jti",
        "jti-too-long",  # the replay cache holds every jti until exp: bounded
    ],
)
def test_refusals(clients, token, words):
    with pytest.raises(CdsAuthError, match=words):
        clients.verify(token(), SERVICE_PATH)


def test_an_unknown_kid_is_refused(clients):
    key = sandbox_key()
    token = jwt.encode(
        claims_now(), jwt.PyJWK(key).key, algorithm="ES384", headers={"kid": "another-key"}
    )
    with pytest.raises(CdsAuthError, match="kid names no key"):
        clients.verify(token, SERVICE_PATH)


def test_alg_none_is_refused(clients):
    token = hand_signed(
        {"alg": "none", "typ": "JWT", "kid": sandbox_key()["kid"]}, claims_now(), None
    )
    with pytest.raises(CdsAuthError, match="alg 'none' is refused"):
        clients.verify(token, SERVICE_PATH)


@pytest.mark.parametrize("alg", [[], {}, ["ES384"], 384])
def test_an_alg_that_is_not_text_is_refused_not_a_crash(clients, alg):
    token = hand_signed({"alg": alg, "kid": sandbox_key()["kid"]}, claims_now(), None)
    with pytest.raises(CdsAuthError, match="is refused"):
        clients.verify(token, SERVICE_PATH)


@pytest.mark.parametrize("form", ["pem", "jwk"])
def test_hs256_signed_with_the_public_key_is_refused(clients, form):
    """The algorithm-confusion forgery: HMAC keyed with the (public) verification key."""
    public = jwt.PyJWK(json.loads((SHARED / "sandbox-jwks.json").read_text())["keys"][0]).key
    secret = (
        public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if form == "pem"
        else (SHARED / "sandbox-jwks.json").read_bytes()
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": sandbox_key()["kid"]}
    with pytest.raises(CdsAuthError, match="alg 'HS256' is refused"):
        clients.verify(hand_signed(header, claims_now(), secret), SERVICE_PATH)


def test_a_replayed_jti_is_refused(clients):
    token = sandbox_jwt()
    clients.verify(token, SERVICE_PATH)
    with pytest.raises(CdsAuthError, match="replay"):
        clients.verify(token, SERVICE_PATH)
    # the same jti in a new token of the same issuer is a replay too
    jti = str(uuid.uuid4())
    clients.verify(sandbox_jwt(jti=jti), SERVICE_PATH)
    with pytest.raises(CdsAuthError, match="replay"):
        clients.verify(sandbox_jwt(jti=jti), SERVICE_PATH)


def test_a_signature_by_another_key_is_refused(clients):
    other = ec.generate_private_key(ec.SECP384R1())
    token = jwt.encode(
        claims_now(), other, algorithm="ES384", headers={"kid": sandbox_key()["kid"]}
    )
    with pytest.raises(CdsAuthError, match="signature does not verify"):
        clients.verify(token, SERVICE_PATH)


def test_an_algorithm_the_key_is_not_for_is_refused(clients):
    _, claims, signature = sandbox_jwt().split(".")
    header = b64(json.dumps({"alg": "ES256", "typ": "JWT", "kid": sandbox_key()["kid"]}).encode())
    with pytest.raises(CdsAuthError, match="not the algorithm of the key"):
        clients.verify(f"{header}.{claims}.{signature}", SERVICE_PATH)


def test_rs384_from_an_rsa_issuer(tmp_path):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**public_jwk, "kid": "rsa-1"}]}))
    clients = CdsClients(
        load_issuers({"https://ehr.example.org": tmp_path / "jwks.json"}), PUBLIC_URL
    )
    claims = {**claims_now(), "iss": "https://ehr.example.org"}
    token = jwt.encode(claims, private, algorithm="RS384", headers={"kid": "rsa-1"})
    assert clients.verify(token, SERVICE_PATH) == "cds:https://ehr.example.org"


def test_a_key_set_with_private_or_symmetric_keys_is_refused(tmp_path):
    (tmp_path / "pair.json").write_text((SHARED / "sandbox-jwk-keypair.json").read_text())
    with pytest.raises(CdsConfigError, match="private or symmetric"):
        load_issuers({SANDBOX: tmp_path / "pair.json"})
    (tmp_path / "oct.json").write_text(
        json.dumps({"keys": [{"kty": "oct", "kid": "s", "k": "AA"}]})
    )
    with pytest.raises(CdsConfigError, match="private or symmetric"):
        load_issuers({SANDBOX: tmp_path / "oct.json"})
    with pytest.raises(CdsConfigError, match="not a JWK Set"):
        load_issuers({SANDBOX: tmp_path / "missing.json"})


def test_the_replay_cache_forgets_expired_tokens_and_is_bounded():
    now = [1000.0]
    cache = ReplayCache(max_live=2, clock=lambda: now[0])
    cache.claim("i", "a", 1100.0)
    cache.claim("i", "b", 1200.0)
    with pytest.raises(CdsAuthError, match="too many live"):
        cache.claim("i", "c", 1200.0)
    now[0] = 1200.0  # "a" expired (with the leeway) long ago
    cache.claim("i", "c", 1300.0)
    assert len(cache) == 2
    with pytest.raises(CdsAuthError, match="replay"):
        cache.claim("i", "b", 1200.0)  # still within its life plus the leeway


# --- through the guard ----------------------------------------------------------------------


def guard_call(guard: GuardMiddleware, path: str, token: str | None, method: str = "GET"):
    """Run the guard on a request to ``path``; (status, body, whether the app ran)."""
    sent, ran = [], []

    async def app(scope, receive, send):
        ran.append(scope.get("state", {}).get("token_id"))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    guard.app = app
    asyncio.run(guard(scope, receive, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body), ran


@pytest.fixture
def guard(monkeypatch) -> GuardMiddleware:
    monkeypatch.setenv(
        "IL2SELECT_CDS_ISSUERS", json.dumps({SANDBOX: str(SHARED / "sandbox-jwks.json")})
    )
    monkeypatch.setenv("IL2SELECT_PUBLIC_URL", PUBLIC_URL)
    from model.settings import get_settings

    get_settings.cache_clear()
    try:
        yield GuardMiddleware(None, tokens=TokenStore({hash_token("rest-token"): "board"}))
    finally:
        get_settings.cache_clear()


def test_the_guard_takes_the_sandbox_jwt_on_a_cds_route(guard):
    status, _, ran = guard_call(
        guard, SERVICE_PATH + "/feedback", sandbox_jwt(AUDIENCE + "/feedback")
    )
    assert status == 200 and ran == [f"cds:{SANDBOX}"]


def test_the_guard_refuses_with_an_operation_outcome(guard):
    for token, words in ((None, "no bearer token"), (sandbox_jwt(aud=PUBLIC_URL), "aud must be")):
        status, body, ran = guard_call(guard, SERVICE_PATH, token)
        assert status == 401 and not ran
        assert body["resourceType"] == "OperationOutcome"
        assert body["issue"][0]["code"] == "security" and words in body["issue"][0]["diagnostics"]
    status, body, _ = guard_call(guard, SERVICE_PATH, "not-a-token")
    assert status == 401 and "neither a JWT nor a known token" in body["issue"][0]["diagnostics"]


def test_rest_tokens_keep_working_and_jwts_stay_off_the_rest_api(guard):
    assert guard_call(guard, SERVICE_PATH, "rest-token")[2] == ["board"]
    status, body, ran = guard_call(guard, "/model", sandbox_jwt(aud=PUBLIC_URL + "/model"))
    assert status == 401 and body == {"error": "unauthorized"} and not ran


def test_discovery_is_public(guard):
    assert guard_call(guard, "/cds-services", None)[0] == 200
