"""Bearer tokens, stored only as SHA-256 hashes.

A token is a random URL-safe string shown once; what is stored is ``token_id:sha256hex``
(in ``IL2SELECT_TOKENS``, comma-separated, and/or in a tokens file, one a line). The
token id, never the token, goes into the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

TOKEN_BYTES = 32


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
    """A new random token; only its hash is appended to ``tokens_file`` (mode 0600)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    tokens_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(tokens_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as out:
        out.write(f"{token_id}:{hash_token(token)}\n")
    return token


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
