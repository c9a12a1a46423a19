"""Token management: ``il2select token add|list|revoke`` on a tokens file, and the live
view of it the service's guard reads (a change takes effect at the next request)."""

from __future__ import annotations

import os

from typer.testing import CliRunner

from il2select.cli import app
from serving.auth import LiveTokens, hash_token


def test_add_prints_once_stores_the_hash_and_list_never_shows_it(tmp_path):
    path = tmp_path / "tokens"
    runner = CliRunner()
    added = runner.invoke(app, ["token", "add", "board-room", "--tokens-file", str(path)])
    assert added.exit_code == 0, added.output
    token = added.stdout.strip().splitlines()[-1]
    stored = path.read_text()
    assert token not in stored and hash_token(token) in stored
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    listed = runner.invoke(app, ["token", "list", "--tokens-file", str(path)])
    assert "board-room" in listed.stdout and "20" in listed.stdout  # its creation year
    assert hash_token(token) not in listed.stdout
    again = runner.invoke(app, ["token", "add", "board-room", "--tokens-file", str(path)])
    assert again.exit_code == 2 and "exists already" in again.output
    bad = runner.invoke(app, ["token", "add", "a b:c", "--tokens-file", str(path)])
    assert bad.exit_code == 2 and "letters, digits" in bad.output


def test_revoke_removes_only_that_token_and_says_when_there_is_none(tmp_path):
    path = tmp_path / "tokens"
    runner = CliRunner()
    for name in ("keep", "drop"):
        assert runner.invoke(app, ["token", "add", name, "--tokens-file", str(path)]).exit_code == 0
    gone = runner.invoke(app, ["token", "revoke", "drop", "--tokens-file", str(path)])
    assert gone.exit_code == 0
    assert "keep:" in path.read_text() and "drop:" not in path.read_text()
    missing = runner.invoke(app, ["token", "revoke", "drop", "--tokens-file", str(path)])
    assert missing.exit_code == 1 and "no token named 'drop'" in missing.output


def test_the_guard_sees_added_and_revoked_tokens_without_a_restart(tmp_path):
    from serving.auth import create_token, revoke_token

    path = tmp_path / "tokens"
    first = create_token(path, "first")
    live = LiveTokens("", path)
    assert live.identify(first) == "first"
    second = create_token(path, "second")
    assert live.identify(second) == "second"
    revoke_token(path, "first")
    assert live.identify(first) is None and live.identify(second) == "second"
    path.write_text("not a token entry\n")  # a broken edit: the file counts for nothing
    assert live.identify(second) is None
    path.write_text(f"second:{hash_token(second)}\n")  # mended
    assert live.identify(second) == "second"
    path.unlink()  # no file: the environment's tokens only
    assert live.identify(second) is None and not live


def test_a_tokens_file_broken_after_a_start_without_one_never_raises(tmp_path):
    path = tmp_path / "tokens"
    live = LiveTokens(f"env:{hash_token('from-env')}", path)  # no file at start-up
    path.write_text("half-written entr")
    assert live.identify("from-env") == "env" and live.identify("x") is None
