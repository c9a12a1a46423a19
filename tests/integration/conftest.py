"""The integration suite's shared fixtures (``service_fixtures``), visible to every module."""

from tests.integration.service_fixtures import (  # noqa: F401  (fixtures)
    champion_tracking_uri,
    project,
    service,
)
