"""Bearer tokens, stored only as SHA-256 hashes.

A token is a random URL-safe string shown once; what is stored is ``token_id:sha256hex``
(in ``IL2SELECT_TOKENS``, comma-separated, and/or in a tokens file, one a line). The
token id, never the token, goes into the audit log.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

TOKEN_BYTES = 32
TOKEN_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
logger = logging.getLogger("il2select.auth")


class TokenConfigError(ValueError):
    """A tokens entry that cannot be read (names the source and the rule)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenStore:
    """Known token hashes -> token ids."""

    ids_by_hash: dict[str, str]

    def __bool__(self) -> bool:
        return bool(self.ids_by_hash)

    def identify(self, token: str) -> str | None:
        """The token id of a presented token, or None (compared in constant time)."""
        digest = hash_token(token)
        found = None
        for known, token_id in self.ids_by_hash.items():
            if hmac.compare_digest(known, digest):
                found = token_id
        return found


def parse_entries(text: str, source: str, separator: str = "\n") -> dict[str, str]:
    """'token_id:sha256hex' entries (blank lines and '#' comments skipped) -> hash: id."""
    entries = {}
    for raw in text.split(separator):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        token_id, _, digest = entry.rpartition(":")
        digest = digest.lower()
        if not token_id or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise TokenConfigError(
                f"{source}: entry {entry[:12]!r}… must be 'token_id:sha256hex' (64 hex digits)"
            )
        entries[digest] = token_id
    return entries


def load_tokens(env_value: str, tokens_file: Path | None) -> TokenStore:
    """Every configured token hash, from the environment value and the file (if it exists)."""
    ids = parse_entries(env_value, "IL2SELECT_TOKENS", separator=",")
    if tokens_file is not None and tokens_file.exists():
        ids.update(parse_entries(tokens_file.read_text(), str(tokens_file)))
    return TokenStore(ids)


def create_token(tokens_file: Path, token_id: str = "local") -> str:
    """A new random token; only its hash is appended to ``tokens_file`` (mode 0600), with
    its creation time as a comment (what ``il2select token list`` shows)."""
    if not TOKEN_ID.fullmatch(token_id):
        raise TokenConfigError(
            f"token name {token_id!r}: letters, digits, '.', '_' and '-' only (1-64)"
        )
    if token_id in {name for name, _ in listed_tokens(tokens_file)}:
        raise TokenConfigError(f"a token named {token_id!r} exists already in {tokens_file}")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    tokens_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(tokens_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as out:
        out.write(f"{token_id}:{hash_token(token)}  # created {created}\n")
    return token


def listed_tokens(tokens_file: Path) -> list[tuple[str, str | None]]:
    """(name, creation time or None) of every token in ``tokens_file``; never a hash."""
    if not tokens_file.exists():
        return []
    out = []
    for line in tokens_file.read_text().splitlines():
        entry, _, comment = line.partition("#")
        if entry.strip():
            created = comment.strip().removeprefix("created ").strip() or None
            out.append((entry.strip().rpartition(":")[0], created))
    return out


def revoke_token(tokens_file: Path, token_id: str) -> int:
    """Remove every entry named ``token_id`` (the file is replaced atomically, so a running
    service never reads half of it); returns how many were removed."""
    if not tokens_file.exists():
        return 0
    lines = tokens_file.read_text().splitlines(keepends=True)
    kept = [line for line in lines if line.partition("#")[0].strip().rpartition(":")[0] != token_id]
    if len(kept) == len(lines):
        return 0
    original = os.stat(tokens_file)
    fd, temporary = tempfile.mkstemp(dir=tokens_file.parent, prefix=".tokens-")
    with os.fdopen(fd, "w") as out:
        out.writelines(kept)
    os.chmod(temporary, original.st_mode & 0o777)
    with contextlib.suppress(PermissionError):  # the service's user must still read it
        os.chown(temporary, original.st_uid, original.st_gid)
    os.replace(temporary, tokens_file)
    return len(lines) - len(kept)


class LiveTokens:
    """The configured tokens, re-read when the tokens file changes (checked on every look-up:
    one ``stat``), so ``il2select token add`` and ``revoke`` take effect without a restart.
    A file that can no longer be read or parsed after start-up counts for nothing (fail
    closed: a revoked token must not survive a broken edit) until it is mended, and says
    so in the log; a deleted file leaves the environment's tokens only."""

    def __init__(self, env_value: str, tokens_file: Path | None) -> None:
        self.env_value, self.tokens_file = env_value, tokens_file
        self.seen: tuple | None = None
        self.store = TokenStore({})
        self.started = False
        self._refresh()  # a broken file at start-up is an error the caller sees
        self.started = True

    def __bool__(self) -> bool:
        self._refresh()
        return bool(self.store)

    def identify(self, token: str) -> str | None:
        self._refresh()
        return self.store.identify(token)

    def _refresh(self) -> None:
        try:
            stat = self.tokens_file.stat() if self.tokens_file is not None else None
            state = None if stat is None else (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            state = None
        if state == self.seen and self.seen is not None:
            return
        try:
            self.store = load_tokens(self.env_value, self.tokens_file)
        except (TokenConfigError, OSError) as exc:
            if not self.started:
                raise
            logger.error("tokens file unreadable: only IL2SELECT_TOKENS count until it is: %s", exc)
            self.store = load_tokens(self.env_value, None)
        self.seen = state


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bearer_token(scope: dict) -> str | None:
    """The token of an ASGI request's ``Authorization: Bearer`` header (None: none)."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None
