"""data/synthetic/targets-v2.yaml is the shared domain file, unchanged, and loads with
its eras."""

from __future__ import annotations

from pathlib import Path

from data.synthetic.targets import (
    DEFAULT_ERA,
    ERAS,
    TARGETS_PATH,
    expand_population,
    load_targets,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "domain" / "targets-v2.yaml"


def test_copy_matches_shared_targets():
    assert SHARED.exists(), f"{SHARED}: the shared domain folder must sit beside the checkout"
    assert TARGETS_PATH.read_text(encoding="utf-8") == SHARED.read_text(encoding="utf-8")


def test_targets_load_with_sources_and_bands():
    targets = load_targets()
    assert len(targets) >= 40
    for target in targets:
        assert target.low < target.high and target.kind in ("outcome", "case_mix")
        assert target.spec["source"] and "@" not in target.population
        assert target.era in (None, *ERAS)


def test_each_era_has_its_survival_targets():
    """Overall-survival figures of the cytokine-era series are judged on a cytokine-era
    cohort, the TKI-era ones (PROCLAIM, IMDC) on the default targeted era, and every
    untagged figure on the default era only."""
    targets = load_targets()
    cytokine = {t.id for t in targets.in_era("cytokine")}
    targeted = {t.id for t in targets.in_era("targeted")}
    assert DEFAULT_ERA == "targeted"
    assert {"il2_median_os_reference", "mskcc_favourable_median_os_ifn"} <= cytokine - targeted
    assert {"proclaim_il2_median_os", "imdc_poor_median_os_tki", "tki_median_pfs"} <= (
        targeted - cytokine
    )
    assert cytokine | targeted == {t.id for t in targets}


def test_named_populations_expand_recursively():
    populations = {"a": "x > 1", "b": "@a and y"}
    assert expand_population("@b or z", populations) == "((x > 1) and y) or z"
