"""The published targets (``targets-v2.yaml``, a copy of the shared domain file).

A target is one statistic of one population; populations are ``DataFrame.query``
expressions in which ``@name`` refers to a named population of the file. A target tagged
with a treatment era (``era: cytokine`` or ``targeted``) is met on a cohort of that era;
an untagged one on a cohort of the default era (the brief: response and
progression-free survival did not change with the era).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

TARGETS_PATH = Path(__file__).with_name("targets-v2.yaml")
ERAS = ("targeted", "cytokine")
DEFAULT_ERA = "targeted"
_NAMED = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Target:
    """One published figure with its accept band (see the targets file's header)."""

    id: str
    statistic: str
    population: str
    low: float
    high: float
    kind: str
    spec: dict
    era: str | None = None

    def belongs_to(self, era: str) -> bool:
        """Whether the target is judged on a cohort of ``era``."""
        return self.era == era or (self.era is None and era == DEFAULT_ERA)

    @property
    def centre(self) -> float:
        return 0.5 * (self.low + self.high)

    @property
    def is_outcome(self) -> bool:
        return self.kind == "outcome"


@dataclass(frozen=True)
class TargetSet:
    """All targets of a file with their named populations expanded."""

    targets: tuple[Target, ...]
    populations: dict[str, str]

    def __iter__(self):
        return iter(self.targets)

    def __len__(self) -> int:
        return len(self.targets)

    def in_era(self, era: str) -> TargetSet:
        """The targets judged on a cohort of ``era``."""
        if era not in ERAS:
            raise ValueError(f"unknown era {era!r}: one of {', '.join(ERAS)}")
        return TargetSet(tuple(t for t in self.targets if t.belongs_to(era)), self.populations)

    def outcomes(self) -> TargetSet:
        """The outcome targets only (the ones the calibration fits)."""
        return TargetSet(tuple(t for t in self.targets if t.is_outcome), self.populations)

    def by_id(self, target_id: str) -> Target:
        return next(t for t in self.targets if t.id == target_id)


def expand_population(expression: str, populations: dict[str, str]) -> str:
    """Replace every ``@name`` by its parenthesised definition (recursively)."""

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in populations:
            raise KeyError(f"unknown population @{name} in {expression!r}")
        return f"({expand_population(populations[name], populations)})"

    return _NAMED.sub(replace, expression)


def load_targets(path: str | Path | None = None) -> TargetSet:
    """Read a targets file (default: ``data/synthetic/targets-v2.yaml``)."""
    with open(TARGETS_PATH if path is None else path, encoding="utf-8") as handle:
        document = yaml.safe_load(handle)
    populations = dict(document.get("populations", {}))
    targets = []
    for entry in document["targets"]:
        spec = dict(entry)
        for key in (
            "population",
            "numerator_population",
            "denominator_population",
            "exposure",
            "outcome",
        ):
            if key in spec:
                spec[key] = expand_population(str(spec[key]), populations)
        low, high = (float(v) for v in entry["accept"])
        targets.append(
            Target(
                id=entry["id"],
                statistic=entry["statistic"],
                population=spec["population"],
                low=low,
                high=high,
                kind=entry["kind"],
                spec=spec,
                era=entry.get("era"),
            )
        )
    return TargetSet(tuple(targets), populations)
