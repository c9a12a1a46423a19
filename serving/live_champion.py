"""Live promotion: the service follows ``@champion`` without a restart (issue 12).

``LiveChampion.refresh`` asks the registry which version the alias names; when it is not
the one serving, the new version is loaded beside the old one (in the caller's thread,
never the event loop) and swapped in by one assignment. A request takes the champion once
(``current``) and computes, records and names its answer with that one, so no answer mixes
two versions. A version that fails to load leaves the old one serving; the failure is
logged and counted on ``/metrics``. The service refreshes every ``IL2SELECT_CHAMPION_POLL_S``
seconds and on an authenticated ``POST /admin/reload``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from model.recommend.pyfunc import aliased_version, registry_client
from model.settings import Settings
from serving.champion import Champion, load_champion

logger = logging.getLogger("il2select.champion")
CHAMPION_VERSION = Gauge(
    "champion_version",
    "The registered version of il2select@champion this worker answers with",
    multiprocess_mode="liveall",
)
RELOAD_FAILURES = Counter(
    "champion_reload_failures",
    "Versions under the champion alias that could not be loaded (the previous one serves on)",
)


@dataclass(frozen=True)
class Reload:
    """What a refresh did: the version serving after it, the one before, and why a version
    under the alias was not taken (``error``)."""

    serving: str
    previous: str
    aliased: str | None
    error: str | None = None

    @property
    def changed(self) -> bool:
        return self.serving != self.previous


class LiveChampion:
    def __init__(self, settings: Settings, champion: Champion) -> None:
        self.settings = settings
        self.current = champion
        self._loading = threading.Lock()  # one load at a time; requests never wait on it
        CHAMPION_VERSION.set(_number(champion.provenance.model_version))

    @property
    def version(self) -> str:
        return self.current.provenance.model_version

    def refresh(self) -> Reload:
        """Load and swap in the version under the alias if it is not the one serving."""
        with self._loading:
            previous = self.version
            try:
                client = registry_client(self.settings.tracking_uri)
                found = aliased_version(
                    client, self.settings.model_name, self.settings.champion_alias
                )
                aliased = None if found is None else str(found.version)
                if aliased is None or aliased == previous:
                    return Reload(previous, previous, aliased)
                champion = load_champion(self.settings)
            except Exception as exc:  # noqa: BLE001  (whatever fails, the old one serves on)
                RELOAD_FAILURES.inc()
                logger.error(
                    "the champion could not be reloaded; version %s serves on: %s", previous, exc
                )
                return Reload(previous, previous, None, str(exc))
            self.current = champion  # the swap: one assignment, seen whole by requests
            CHAMPION_VERSION.set(_number(self.version))
            logger.warning("champion version %s replaces version %s", self.version, previous)
            return Reload(self.version, previous, aliased)


def _number(version: str) -> float:
    try:
        return float(version)
    except ValueError:
        return float("nan")
