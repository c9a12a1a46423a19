"""Aliases in the registry (``@champion``, ``@challenger``): each move recorded with its
reason on the version and in the registered model's history."""

from __future__ import annotations

from model.recommend.pyfunc import aliased_version, registry_client
from model.settings import Settings


def move_alias(settings: Settings, alias: str, version: str, reason: str) -> str:
    """Point ``alias`` at ``version`` and record the move and its reason on the version
    and in the model's alias history (a tag per move)."""
    client = registry_client(settings.tracking_uri)
    before = aliased_version(client, settings.model_name, alias)
    client.set_registered_model_alias(settings.model_name, alias, version)
    line = f"@{alias}: {before.version if before else 'none'} -> {version}: {reason}"
    client.set_model_version_tag(settings.model_name, version, f"alias_{alias}_reason", reason)
    history = client.get_registered_model(settings.model_name).tags
    n = sum(1 for k in history if k.startswith("alias_move_"))
    client.set_registered_model_tag(settings.model_name, f"alias_move_{n + 1:04d}", line)
    return line
