"""Rich tables of an evaluation: the policy-value table and the trade-off table."""

from __future__ import annotations

from rich.table import Table


def policy_value_view(policies, title: str) -> Table:
    """Each policy's value with its 95 % interval, and its difference from the recommender
    with the paired interval."""
    from training.policy_value import MEASURES

    table = Table(title=title, show_lines=True)
    table.add_column("policy")
    for column in MEASURES:
        table.add_column(column.replace("_", " "), justify="right")
    for name, row in policies.iterrows():
        cells = []
        for column in MEASURES:
            text = f"{row[column]:.1f} ({row[f'{column}_lo']:.1f}-{row[f'{column}_hi']:.1f})"
            if name != "recommender":
                text += (
                    f"\n{row[f'diff_{column}']:+.1f} vs recommender "
                    f"({row[f'diff_{column}_lo']:+.1f} to {row[f'diff_{column}_hi']:+.1f})"
                )
            cells.append(text)
        table.add_row(str(name), *cells)
    return table


def tradeoff_view(sweep, title: str) -> Table:
    """Durable CRs gained over a TKI for all against IL-2 courses and cardiac events, per
    1,000 patients, over the grid of both thresholds (gains in steps of 0.01; the CSV
    has the full grid)."""
    hundredths = sweep["min_durable_gain"] * 100
    sweep = sweep[(hundredths - hundredths.round()).abs() < 1e-6]
    table = Table(title=title)
    for name in (
        "min gain",
        "max P(tox)",
        "durable CR gained",
        "IL-2 courses",
        "cardiac events",
        "courses per CR gained",
        "RMST60",
    ):
        table.add_column(name, justify="right")
    for r in sweep.itertuples():
        table.add_row(
            f"{r.min_durable_gain:.3f}",
            f"{r.max_p_toxicity:.2f}",
            f"{r.durable_cr_gained_per_1000:.1f}",
            f"{r.il2_courses_per_1000:.0f}",
            f"{r.cardiac_events_per_1000:.1f}",
            f"{r.il2_courses_per_durable_cr_gained:.1f}",
            f"{r.rmst60_months:.2f}",
        )
    return table
