"""CDS Hooks clients authenticated by their JWT (CDS Hooks 2.0, "Trusting CDS Clients").

Every call carries ``Authorization: Bearer <JWT>`` signed by the client's private key. The
service trusts an issuer (``iss``) through a local copy of its JWK Set
(``IL2SELECT_CDS_ISSUERS``: issuer -> file, read at start; nothing is fetched, the ``jku``
header is ignored), picks the key by ``kid`` and checks: an asymmetric algorithm (the
specification forbids ``none`` and every HMAC), the signature, ``aud`` equal to the URL
called (``IL2SELECT_PUBLIC_URL`` + path), ``exp`` and ``iat`` (a small leeway for clocks),
and a ``jti`` not seen before within its lifetime.

Replays are caught twice: in the worker's memory (no I/O: a replay to the same worker, and
the bound on live tokens), then in a table every worker and replica shares
(``serving/cds_replays.py``, beside the audit log), so a token replayed to another worker
or replica within its life is refused too.
"""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt

from serving.cds_replays import ReplayStoreError, SharedReplays

# CDS Hooks recommends ES384 and RS384; the sandbox signed with ES256 before it moved to
# ES384. Asymmetric only: never "none", never HS* (a shared secret is no client identity)
ALGORITHMS = frozenset({"ES256", "ES384", "ES512", "RS256", "RS384", "RS512"})
RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "jti"]
LEEWAY_S = 30  # clocks of client and service may differ by this much
MAX_LIFETIME_S = 3600  # a token living longer than this is refused (bounds the replay cache)
MAX_LIVE_TOKENS = 200_000
REPLAYED = "this JWT (its jti) was used before: a replay"
MAX_JTI_CHARS = 256  # a uuid is 36: the cache's memory stays bounded (200,000 x 256)
TOKEN_PREFIX = "cds:"  # the audit log's token id of a CDS client: cds:<issuer>
Keys = dict[str, dict[str, dict[str, jwt.PyJWK]]]  # issuer -> kid -> algorithm -> key


class CdsAuthError(ValueError):
    """Why a CDS client's JWT was refused (never which key material)."""


class CdsConfigError(ValueError):
    """A trusted issuer's JWK Set that cannot be used (names the issuer and the file)."""


def load_issuers(issuers: dict[str, Path]) -> Keys:
    """Each trusted issuer's public keys by ``kid``, and by the algorithms each key may sign
    with (its JWK's ``alg``, else what its type allows)."""
    keys: Keys = {}
    for issuer, path in issuers.items():
        try:
            document = json.loads(Path(path).read_text())
            entries = document["keys"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CdsConfigError(f"issuer {issuer!r}: {path} is not a JWK Set ({exc})") from None
        keys[issuer] = {}
        for entry in entries:
            kid = entry.get("kid") if isinstance(entry, dict) else None
            if not kid:
                raise CdsConfigError(f"issuer {issuer!r}: a key in {path} has no kid")
            if "d" in entry or entry.get("kty") == "oct":
                raise CdsConfigError(
                    f"issuer {issuer!r}: {path} holds a private or symmetric key; "
                    "configure the issuer's public JWK Set"
                )
            keys[issuer][kid] = _key_by_algorithm(entry, issuer, path)
    return keys


def _key_by_algorithm(entry: dict, issuer: str, path: Path) -> dict[str, jwt.PyJWK]:
    if entry.get("alg"):
        algorithms = [entry["alg"]]
    elif entry.get("kty") == "RSA":
        algorithms = list(RSA_ALGORITHMS)
    else:
        algorithms = [EC_ALGORITHMS.get(entry.get("crv"), "")]
    if not set(algorithms) <= ALGORITHMS:
        raise CdsConfigError(
            f"issuer {issuer!r}: key {entry['kid']!r} in {path} is for {algorithms}, "
            f"not one of {sorted(ALGORITHMS)}"
        )
    try:
        return {algorithm: jwt.PyJWK(entry, algorithm) for algorithm in algorithms}
    except jwt.PyJWTError as exc:
        raise CdsConfigError(f"issuer {issuer!r}: key {entry['kid']!r} in {path}: {exc}") from None


class ReplayCache:
    """The ``jti`` of every token accepted, until the token expires (then it could not be
    replayed anyway). Only tokens whose signature verified get here, so only trusted
    clients can fill it; when full of live tokens, new ones are refused (fail closed)."""

    def __init__(self, max_live: int = MAX_LIVE_TOKENS, clock: Callable[[], float] = time.time):
        self.max_live, self.clock = max_live, clock
        self._expiry: dict[tuple[str, str], float] = {}
        self._heap: list[tuple[float, tuple[str, str]]] = []

    def __len__(self) -> int:
        return len(self._expiry)

    def claim(self, issuer: str, jti: str, exp: float) -> None:
        now = self.clock()
        while self._heap and self._heap[0][0] + LEEWAY_S < now:
            _, key = heapq.heappop(self._heap)
            self._expiry.pop(key, None)
        key = (issuer, jti)
        if key in self._expiry:
            raise CdsAuthError(REPLAYED)
        if len(self._expiry) >= self.max_live:
            raise CdsAuthError("too many live JWTs: retry with a fresh one")
        self._expiry[key] = exp
        heapq.heappush(self._heap, (exp, key))


class CdsClients:
    """Verifies CDS clients' JWTs against the trusted issuers' keys."""

    def __init__(
        self,
        keys: Keys,
        public_url: str,
        clock: Callable[[], float] = time.time,
        replays: ReplayCache | None = None,
        shared: SharedReplays | None = None,
    ) -> None:
        self.keys, self.clock = keys, clock
        self.public_url = public_url.rstrip("/")
        self.replays = replays or ReplayCache(clock=clock)
        self.shared = shared

    @classmethod
    def from_settings(cls, settings: Any) -> CdsClients:
        keys = load_issuers(settings.cds_issuers)
        shared = SharedReplays.for_settings(settings, LEEWAY_S) if keys else None
        return cls(keys, settings.public_url, shared=shared)

    def verify(self, token: str, path: str) -> str:
        """The audit log's token id (``cds:<issuer>``) of a valid JWT for ``path``; raises
        ``CdsAuthError`` naming what failed."""
        header, claims = _unverified(token)
        algorithm, kid, issuer = header.get("alg"), header.get("kid"), claims.get("iss")
        if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
            raise CdsAuthError(
                f"alg {algorithm!r} is refused: an asymmetric signature (ES384 or RS384) is "
                "required, never none or HMAC"
            )
        if not isinstance(issuer, str) or issuer not in self.keys:
            raise CdsAuthError(f"issuer (iss) {issuer!r} is not a trusted CDS client")
        if not isinstance(kid, str) or kid not in self.keys[issuer]:
            raise CdsAuthError("the JWT's kid names no key of this issuer's JWK Set")
        key = self.keys[issuer][kid].get(algorithm)
        if key is None:
            raise CdsAuthError(f"alg {algorithm} is not the algorithm of the key named by kid")
        audience = self.public_url + path
        payload = _decoded(token, key, algorithm, audience, issuer)
        _check_claim_types(payload)
        if payload["exp"] - self.clock() > MAX_LIFETIME_S:
            raise CdsAuthError(f"exp is more than {MAX_LIFETIME_S} s ahead: too long a life")
        self.replays.claim(issuer, payload["jti"], float(payload["exp"]))
        if self.shared is not None:
            try:
                fresh = self.shared.claim(issuer, payload["jti"], float(payload["exp"]))
            except ReplayStoreError as exc:  # fail closed: the check could not run
                raise CdsAuthError(str(exc)) from None
            if not fresh:
                raise CdsAuthError(REPLAYED)
        return TOKEN_PREFIX + issuer


def _check_claim_types(payload: dict) -> None:
    """``exp`` and ``iat`` as numbers (PyJWT takes any text ``int()`` reads), ``jti`` as a
    short non-empty text (the replay cache keeps it until the token expires)."""
    for claim in ("exp", "iat"):
        value = payload[claim]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CdsAuthError(
                f"{claim} must be a number (NumericDate), not {type(value).__name__}"
            )
    jti = payload["jti"]
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_CHARS:
        raise CdsAuthError(f"jti must be a text of 1 to {MAX_JTI_CHARS} characters")


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2


def _unverified(token: str) -> tuple[dict, dict]:
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise CdsAuthError("the bearer token is not a well-formed JWT") from None
    return header, claims


def _decoded(token: str, key: jwt.PyJWK, algorithm: str, audience: str, issuer: str) -> dict:
    """The claims once the signature and the registered claims are verified (PyJWT reads
    the clock itself)."""
    try:
        return jwt.PyJWT().decode(
            token,
            key.key,
            algorithms=[algorithm],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY_S,
            options={"require": REQUIRED_CLAIMS, "verify_iat": True},
        )
    except jwt.ExpiredSignatureError:
        raise CdsAuthError("the JWT has expired (exp)") from None
    except jwt.InvalidAudienceError:
        raise CdsAuthError(f"aud must be the URL called: {audience}") from None
    except jwt.MissingRequiredClaimError as exc:
        raise CdsAuthError(f"the JWT has no {exc.claim} claim (required)") from None
    except jwt.ImmatureSignatureError:
        raise CdsAuthError("the JWT is issued in the future (iat)") from None
    except jwt.InvalidSignatureError:
        raise CdsAuthError("the signature does not verify with the issuer's key") from None
    except jwt.PyJWTError as exc:
        raise CdsAuthError(f"the JWT is invalid ({type(exc).__name__})") from None
