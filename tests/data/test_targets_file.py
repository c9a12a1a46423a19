"""data/synthetic/targets.yaml is the shared domain file, unchanged, and loads."""

from __future__ import annotations

from pathlib import Path

from data.synthetic.targets import TARGETS_PATH, expand_population, load_targets

SHARED = Path(__file__).resolve().parents[3] / "shared" / "domain" / "targets.yaml"


def test_copy_matches_shared_targets():
    assert SHARED.exists(), f"{SHARED}: the shared domain folder must sit beside the checkout"
    assert TARGETS_PATH.read_text(encoding="utf-8") == SHARED.read_text(encoding="utf-8")


def test_targets_load_with_sources_and_bands():
    targets = load_targets()
    assert len(targets) >= 40
    for target in targets:
        assert target.low < target.high and target.kind in ("outcome", "case_mix")
        assert target.spec["source"] and "@" not in target.population


def test_named_populations_expand_recursively():
    populations = {"a": "x > 1", "b": "@a and y"}
    assert expand_population("@b or z", populations) == "((x > 1) and y) or z"
