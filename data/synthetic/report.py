"""The synthetic-cohort report: target table, Kaplan–Meier figures, one HTML page.

``target_table`` evaluates every target whose columns the cohort carries;
``write_report`` writes ``targets.csv``, ``km_*.png`` and ``index.html`` into a folder.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from data.synthetic.cohort import derived_columns
from data.synthetic.statistics import evaluate_targets, kaplan_meier, rows_where
from data.synthetic.targets import TargetSet
from model.contract.columns import FEATURE_COLUMNS

STRATEGY_LABELS = {"il2": "HD IL-2", "tki": "TKI", "ifn": "IFN-α"}
# (file stem, title, population, curves: (label, query or None, time, event))
FIGURES = (
    (
        "km_pfs_by_strategy",
        "Progression-free survival by first-line strategy (first line)",
        "not prior_tki and not prior_bevacizumab",
        [(STRATEGY_LABELS[a], None, f"{a}_pfs_months", f"{a}_pfs_event") for a in STRATEGY_LABELS],
    ),
    (
        "km_os_by_strategy",
        "Overall survival by first-line strategy (first line)",
        "not prior_tki and not prior_bevacizumab",
        [(STRATEGY_LABELS[a], None, f"{a}_os_months", f"{a}_os_event") for a in STRATEGY_LABELS],
    ),
    (
        "km_observed_pfs_by_treatment",
        "Observed progression-free survival by treatment given",
        "treatment == treatment",
        [
            (STRATEGY_LABELS[a], f"treatment == '{a}'", "pfs_months", "pfs_event")
            for a in ("il2", "tki")
        ],
    ),
    (
        "km_observed_os_by_treatment",
        "Observed overall survival by treatment given",
        "treatment == treatment",
        [
            (STRATEGY_LABELS[a], f"treatment == '{a}'", "os_months", "os_event")
            for a in ("il2", "tki")
        ],
    ),
    (
        "km_il2_pfs_by_response",
        "HD IL-2 progression-free survival by best response (eligible)",
        "il2_eligible and not prior_tki and not prior_bevacizumab",
        [
            (r, f"il2_best_response == '{r}'", "il2_pfs_months", "il2_pfs_event")
            for r in ("CR", "PR", "SD", "PD")
        ],
    ),
    (
        "km_il2_os_by_manchester",
        "HD IL-2 overall survival by Manchester histology (eligible)",
        "il2_eligible and not prior_tki and not prior_bevacizumab",
        [
            (g, f"manchester_histology == '{g}'", "il2_os_months", "il2_os_event")
            for g in ("favourable", "unfavourable")
        ],
    ),
    (
        "km_il2_os_by_caix",
        "HD IL-2 overall survival by CAIX (eligible, clear cell)",
        "il2_eligible and not prior_tki and not prior_bevacizumab and histology == 'clear_cell'",
        [
            ("CAIX high", "caix_high", "il2_os_months", "il2_os_event"),
            ("CAIX low", "not caix_high", "il2_os_months", "il2_os_event"),
        ],
    ),
    (
        "km_ifn_os_by_mskcc",
        "IFN-α overall survival by MSKCC risk (first line)",
        "not prior_tki and not prior_bevacizumab",
        [
            (g, f"mskcc_risk == '{g}'", "ifn_os_months", "ifn_os_event")
            for g in ("favourable", "intermediate", "poor")
        ],
    ),
    (
        "km_tki_pfs_by_mskcc",
        "TKI progression-free survival by MSKCC risk (first line)",
        "not prior_tki and not prior_bevacizumab",
        [
            (g, f"mskcc_risk == '{g}'", "tki_pfs_months", "tki_pfs_event")
            for g in ("favourable", "intermediate", "poor")
        ],
    ),
)


def with_derived_columns(cohort: pd.DataFrame) -> pd.DataFrame:
    """Add the clinical rules' derived columns when a cohort lacks them (an observed
    view carries features only)."""
    if "il2_eligible" in cohort.columns:
        return cohort
    features = cohort[[c for c in FEATURE_COLUMNS if c in cohort.columns]]
    return pd.concat([cohort, derived_columns(features)], axis=1)


def _columns_present(cohort: pd.DataFrame, target) -> bool:
    text = " ".join(str(v) for v in target.spec.values())
    needed = [
        c
        for c in ("il2_", "tki_", "ifn_")
        if c + "best_response" in text
        or c + "pfs_" in text
        or c + "os_" in text
        or c + "severe" in text
    ]
    return all(f"{p}best_response" in cohort.columns for p in needed)


def target_table(cohort: pd.DataFrame, targets: TargetSet) -> pd.DataFrame:
    """Evaluate the targets a cohort can answer (an observed view has no potential
    outcomes: its outcome targets are left out)."""
    usable = TargetSet(
        tuple(t for t in targets if _columns_present(cohort, t)), targets.populations
    )
    return evaluate_targets(cohort, usable)


def plot_figures(cohort: pd.DataFrame, out_dir: Path) -> list[tuple[str, str]]:
    """Kaplan–Meier PNGs of the figures whose columns are present; (file, title) list."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for stem, title, population, curves in FIGURES:
        if any(c[2] not in cohort.columns for c in curves):
            continue
        group = cohort[rows_where(cohort, population)]
        fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
        for label, query, time_col, event_col in curves:
            rows = group if query is None else group[rows_where(group, query)]
            if rows.empty:
                continue
            km = kaplan_meier(rows[time_col].to_numpy(), rows[event_col].to_numpy())
            ax.step(
                np.concatenate([[0], km.times]),
                np.concatenate([[1], km.survival]),
                where="post",
                label=f"{label} (n={len(rows):,})",
            )
        ax.set(title=title, xlabel="months", ylabel="survival", ylim=(0, 1.02), xlim=(0, 150))
        ax.axhline(0.5, color="grey", lw=0.6, ls=":")
        ax.legend(frameon=False, fontsize=8)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out_dir / f"{stem}.png")
        plt.close(fig)
        written.append((f"{stem}.png", title))
    return written


def write_report(
    cohort: pd.DataFrame,
    table: pd.DataFrame,
    out_dir: str | Path,
    title: str = "Synthetic cohort report",
    summary: pd.DataFrame | None = None,
) -> Path:
    """Write targets.csv, the KM figures and index.html (with a per-target summary over
    seeds when given); returns the HTML path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "targets.csv", index=False)
    figures = plot_figures(cohort, out)
    rows = "\n".join(_html_row(r) for r in table.itertuples())
    images = "\n".join(
        f'<figure><img src="{f}" alt="{html.escape(t)}"><figcaption>'
        f"{html.escape(t)}</figcaption></figure>"
        for f, t in figures
    )
    met = table[table.kind == "outcome"].met
    page = _PAGE.format(
        title=html.escape(title),
        n=len(cohort),
        met=int(met.sum()),
        total=len(met),
        rows=rows,
        images=images,
        summary="" if summary is None else _summary_html(summary),
    )
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _html_row(r) -> str:
    cls = "met" if r.met and r.margin_se >= 2 else ("edge" if r.met else "miss")
    return (
        f'<tr class="{cls}"><td>{r.id}</td><td>{r.kind}</td><td>{r.statistic}</td>'
        f"<td>{r.n:,}</td><td>{r.value:.4g}</td><td>{r.se:.2g}</td>"
        f"<td>[{r.low:g}, {r.high:g}]</td><td>{'yes' if r.met else 'NO'}</td>"
        f"<td>{r.margin_se:.1f}</td></tr>"
    )


def _summary_html(summary: pd.DataFrame) -> str:
    rows = "".join(
        f'<tr class="{"met" if r.margin_2se_all else "miss"}"><td>{r.id}</td><td>{r.kind}</td>'
        f"<td>{r.min_value:.4g}</td><td>{r.max_value:.4g}</td><td>[{r.low:g}, {r.high:g}]</td>"
        f"<td>{r.worst_margin_se:.1f}</td><td>{'yes' if r.met_all else 'NO'}</td></tr>"
        for r in summary.itertuples()
    )
    return (
        "<h2>Over seeds</h2><table><tr><th>target</th><th>kind</th><th>min</th>"
        "<th>max</th><th>accept</th><th>worst margin (SE)</th><th>met in all</th></tr>"
        f"{rows}</table>"
    )


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}
table{{border-collapse:collapse;font-size:13px}}
td,th{{padding:3px 8px;border-bottom:1px solid #ddd}}
tr.met td{{background:#eef8ee}}tr.edge td{{background:#fff6d6}}tr.miss td{{background:#fbe3e3}}
figure{{display:inline-block;margin:8px}}img{{max-width:520px}}</style></head><body>
<h1>{title}</h1><p>{n:,} patients. Outcome targets met: {met} of {total}. Margin = distance
inside the accept band in standard errors (green: at least 2).</p>
<p>Scope: HD IL-2 versus VEGF-TKI on evidence to about 2015; checkpoint inhibitors are not
considered. Every figure is from a synthetic cohort.</p>
<table><tr><th>target</th><th>kind</th><th>statistic</th><th>n</th><th>value</th><th>SE</th>
<th>accept</th><th>met</th><th>margin (SE)</th></tr>
{rows}
</table>{summary}<h2>Kaplan–Meier curves</h2>
{images}
</body></html>
"""


def write_era_index(out: Path, eras: list[str], n: int, seeds: list[int]) -> Path:
    """A top-level index linking each era's report folder and the CSV summaries."""
    links = "\n".join(
        f'<li><a href="{html.escape(e)}/index.html">{html.escape(e)} era</a></li>' for e in eras
    )
    page = (
        "<!doctype html><html lang='en'><meta charset='utf-8'>"
        "<title>Synthetic cohort reports by era</title>"
        f"<h1>Synthetic cohort reports by era</h1><p>{n:,} patients per seed, seeds "
        f"{html.escape(', '.join(map(str, seeds)))}. Each era's targets are judged on "
        "cohorts of that era (untagged targets on the default, targeted, era).</p>"
        f"<ul>{links}</ul><p><a href='seeds_summary.csv'>seeds_summary.csv</a> · "
        "<a href='targets_by_seed.csv'>targets_by_seed.csv</a></p></html>"
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
