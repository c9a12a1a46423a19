"""The generator's parameter file: calibrated effects and documented assumptions.

``params.yaml`` (beside this module) holds two maps. ``effects`` are the named effects
the optimiser fits (value, bounds, rationale); ``assumptions`` are the figures no target
pins down (prevalences, shapes, the SD/PD split, censoring), each with a one-line
rationale. ``Parameters`` is a read-only name -> value view over both.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

PARAMS_PATH = Path(__file__).with_name("params.yaml")


@dataclass(frozen=True)
class Parameters:
    """Every generator parameter by name, plus the document it came from.

    Attributes
    ----------
    values : dict
        name -> float for every effect and assumption.
    document : dict
        the parsed YAML (version, effects with bounds and rationale, assumptions).
    """

    values: dict[str, float]
    document: dict = field(repr=False)

    def __getitem__(self, name: str) -> float:
        return self.values[name]

    @property
    def version(self) -> int:
        return int(self.document["version"])

    @property
    def effect_names(self) -> list[str]:
        """The calibrated effects, in file order."""
        return list(self.document["effects"])

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the calibrated effects, in ``effect_names`` order."""
        pairs = np.array(
            [self.document["effects"][n]["bounds"] for n in self.effect_names], dtype=float
        )
        return pairs[:, 0], pairs[:, 1]

    def effect_vector(self) -> np.ndarray:
        return np.array([self.values[n] for n in self.effect_names], dtype=float)

    def with_effects(self, updates: Mapping[str, float] | np.ndarray) -> Parameters:
        """A copy with some effects replaced (a mapping, or a vector in effect order)."""
        if isinstance(updates, np.ndarray):
            updates = dict(zip(self.effect_names, updates.tolist(), strict=True))
        document = copy.deepcopy(self.document)
        for name, value in updates.items():
            section = "effects" if name in document["effects"] else "assumptions"
            document[section][name]["value"] = float(value)
        return parameters_from_document(document)


def parameters_from_document(document: dict) -> Parameters:
    """Build ``Parameters`` from a parsed parameter document."""
    values = {
        name: float(entry["value"])
        for section in ("assumptions", "effects")
        for name, entry in document[section].items()
    }
    return Parameters(values=values, document=document)


def load_parameters(path: str | Path | None = None) -> Parameters:
    """Read a parameter file (default: the committed ``params.yaml``)."""
    with open(PARAMS_PATH if path is None else path, encoding="utf-8") as handle:
        return parameters_from_document(yaml.safe_load(handle))


def dump_parameters(parameters: Parameters, path: str | Path, header: str = "") -> None:
    """Write a parameter file; ``header`` becomes leading comment lines."""
    text = yaml.safe_dump(
        parameters.document, sort_keys=False, width=120, allow_unicode=True, default_flow_style=None
    )
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    Path(path).write_text(comment + text, encoding="utf-8")
