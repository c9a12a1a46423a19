"""Commands of the synthetic cohort generator: ``synth``, ``synth-report``, ``calibrate``.

``register(app)`` adds them to the ``il2select`` Typer app; each command parses its
options, calls one function of ``data.synthetic`` / ``training`` and formats the result.
"""

from __future__ import annotations

import logging
import sys
from enum import Enum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from data.synthetic.targets import DEFAULT_ERA, ERAS
from il2select.progress import new_progress

Era = Enum("Era", {name: name for name in ERAS}, type=str)
DEFAULT = Era(DEFAULT_ERA)


@lru_cache(maxsize=1)
def _console() -> Console:
    """The commands' console, wide enough for the target table in a file or a pipe."""
    return Console(width=None if sys.stdout.isatty() else 140)


def _progress() -> Progress:
    return new_progress(_console())


def _parse_seeds(text: str) -> list[int]:
    """'1-10' or '1,2,5' -> seeds."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds += list(range(int(low), int(high or low) + 1))
    return seeds


def synth(
    out: Annotated[Path, typer.Option(help="output file: .parquet or .csv")],
    n: Annotated[int, typer.Option(help="number of patients")] = 10_000,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same rows)")] = 1,
    observed: Annotated[bool, typer.Option(help="observed view: one treatment each")] = False,
    params: Annotated[Path | None, typer.Option(help="parameter file")] = None,
    workers: Annotated[int, typer.Option(help="blocks generated concurrently")] = 2,
    era: Annotated[Era, typer.Option(help="treatment era: what follows progression")] = DEFAULT,
) -> None:
    """Generate a synthetic cohort (streamed to disk block by block)."""
    from data.synthetic.params import load_parameters
    from data.synthetic.writer import write_cohort

    parameters = load_parameters(params)
    with _progress() as bar:
        task = bar.add_task(f"synth seed {seed}, {era.value} era", total=n)
        write_cohort(
            out,
            n,
            seed,
            parameters,
            observed,
            workers,
            progress=lambda rows: bar.advance(task, rows),
            era=era.value,
        )
    _console().print(
        f"wrote {n:,} patients of the {era.value} era to {out} "
        f"(parameters version {parameters.version})"
    )


def synth_report(
    out: Annotated[Path, typer.Option(help="report folder (index.html, PNGs, CSV)")],
    cohort: Annotated[Path | None, typer.Option(help="cohort file (.parquet/.csv)")] = None,
    n: Annotated[int, typer.Option(help="without --cohort: patients per seed")] = 200_000,
    seeds: Annotated[str, typer.Option(help="without --cohort: seeds, e.g. 1-10")] = "1",
    targets: Annotated[Path | None, typer.Option(help="targets file")] = None,
    era: Annotated[
        list[Era] | None,
        typer.Option(help="era(s) to report; a --cohort file is of one era (default: both)"),
    ] = None,
) -> None:
    """Evaluate every target on a cohort (or fresh cohorts of several seeds, in each era)
    and write an HTML report with Kaplan–Meier curves."""
    from data.synthetic.report import target_table, with_derived_columns, write_report
    from data.synthetic.targets import load_targets
    from data.synthetic.writer import read_cohort

    target_set = load_targets(targets)
    eras = [e.value for e in era] if era else list(ERAS)
    if cohort is not None:
        if len(eras) != 1:
            eras = [DEFAULT_ERA]
        frame = with_derived_columns(read_cohort(cohort))
        table = target_table(frame, target_set.in_era(eras[0]))
        _print_table(table, f"targets of the {eras[0]} era on {cohort}")
        path = write_report(frame, table, out, title=f"Synthetic cohort report: {cohort.name}")
        _console().print(f"report: {path}")
        return
    long = _seed_tables(target_set, eras, n, _parse_seeds(seeds), out)
    summary = seeds_summary(long)
    _print_summary(summary)
    long.to_csv(Path(out) / "targets_by_seed.csv", index=False)
    summary.to_csv(Path(out) / "seeds_summary.csv", index=False)
    _console().print(f"report: {Path(out) / 'index.html'}")


def _seed_tables(target_set, eras: list[str], n: int, seeds: list[int], out: Path):
    """Every era's targets on fresh cohorts of each seed; one report folder per era
    (``out/<era>/``, KM figures of the first seed) linked from ``out/index.html``."""
    from data.synthetic.cohort import simulate_cohort
    from data.synthetic.report import target_table, write_era_index, write_report

    tables = []
    with _progress() as bar:
        task = bar.add_task(f"{n:,} patients x {len(seeds)} seeds x {len(eras)} eras")
        bar.update(task, total=len(seeds) * len(eras))
        for name in eras:
            for i, s in enumerate(seeds):
                frame = simulate_cohort(n, s, era=name)
                table = target_table(frame, target_set.in_era(name)).assign(era=name, seed=s)
                tables.append(table)
                if i == 0:
                    _print_table(table, f"targets of the {name} era, seed {s}")
                    write_report(
                        frame,
                        table,
                        Path(out) / name,
                        title=f"Synthetic cohort report, {name} era: n = {n:,}, seed {s} "
                        f"(summary over seeds in ../seeds_summary.csv)",
                    )
                bar.advance(task)
    write_era_index(Path(out), eras, n, seeds)
    return pd.concat(tables, ignore_index=True)


def seeds_summary(long: pd.DataFrame) -> pd.DataFrame:
    """Per target over seeds: value range, worst margin in SEs, met in every seed."""
    grouped = long.groupby(["era", "id"], sort=False)
    return pd.DataFrame(
        {
            "kind": grouped.kind.first(),
            "statistic": grouped.statistic.first(),
            "low": grouped.low.first(),
            "high": grouped.high.first(),
            "min_value": grouped.value.min(),
            "max_value": grouped.value.max(),
            "worst_margin_se": grouped.margin_se.min(),
            "seeds": grouped.size(),
            "met_all": grouped.met.all(),
            "margin_2se_all": grouped.margin_se.min() >= 2,
        }
    ).reset_index()


def calibrate(
    n: Annotated[int, typer.Option(help="patients in the calibration case mix")] = 200_000,
    seed: Annotated[int, typer.Option(help="seed of the calibration case mix")] = 20260,
    max_evaluations: Annotated[int, typer.Option(help="objective evaluations")] = 3000,
    start: Annotated[Path | None, typer.Option(help="starting parameter file")] = None,
    targets: Annotated[Path | None, typer.Option(help="targets file")] = None,
    out: Annotated[Path | None, typer.Option(help="parameter file to write")] = None,
) -> None:
    """Fit the generator's effects to every outcome target (trace logged)."""
    from data.synthetic.calibration import calibrate as run_calibration
    from data.synthetic.calibration import write_calibration
    from data.synthetic.params import PARAMS_PATH, load_parameters
    from data.synthetic.targets import TARGETS_PATH, load_targets

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = PARAMS_PATH if out is None else out
    target_set = load_targets(targets)
    with _progress() as bar:
        task = bar.add_task("calibrating", total=max_evaluations)

        def on_evaluation(count: int, cost: float, best: float) -> None:
            bar.update(task, completed=count, description=f"calibrating (best cost {best:.4f})")
            if count % 50 == 0:
                bar.console.log(f"evaluation {count}: cost {cost:.5f}, best {best:.5f}")

        result = run_calibration(
            load_parameters(start),
            target_set,
            n=n,
            seed=seed,
            max_evaluations=max_evaluations,
            on_evaluation=on_evaluation,
        )
    report = out.with_name("calibration_report.md")
    write_calibration(result, target_set, out, report, n, seed, str(targets or TARGETS_PATH.name))
    _console().print(
        f"cost {result.cost_start:.4f} -> {result.cost_final:.4f} in "
        f"{result.evaluations} evaluations ({result.status}); wrote {out}, {report}"
    )


def _print_table(table: pd.DataFrame, title: str) -> None:
    view = Table(title=title)
    for name in ("target", "kind", "statistic", "value", "SE", "accept", "met", "margin SE"):
        view.add_column(
            name, justify="left" if name in ("target", "kind", "statistic") else "right"
        )
    for r in table.itertuples():
        style = None if r.met and r.margin_se >= 2 else ("yellow" if r.met else "red")
        view.add_row(
            r.id,
            r.kind,
            r.statistic,
            f"{r.value:.4g}",
            f"{r.se:.2g}",
            f"[{r.low:g}, {r.high:g}]",
            "yes" if r.met else "NO",
            f"{r.margin_se:.1f}",
            style=style,
        )
    _console().print(view)


def _print_summary(summary: pd.DataFrame) -> None:
    view = Table(title="over seeds: worst margin per target, in its era")
    for name in ("era", "target", "kind", "min", "max", "accept", "worst margin SE", "met all"):
        view.add_column(name)
    for r in summary.itertuples():
        view.add_row(
            r.era,
            r.id,
            r.kind,
            f"{r.min_value:.4g}",
            f"{r.max_value:.4g}",
            f"[{r.low:g}, {r.high:g}]",
            f"{r.worst_margin_se:.1f}",
            "yes" if r.met_all else "NO",
            style=None if r.margin_2se_all else "red",
        )
    _console().print(view)


def register(app: typer.Typer) -> None:
    """Add ``synth``, ``synth-report`` and ``calibrate`` to the ``il2select`` app."""
    app.command(name="synth", help="Generate a synthetic cohort.")(synth)
    app.command(name="synth-report", help="Target table and KM report of a cohort.")(synth_report)
    app.command(name="calibrate", help="Calibrate the generator to the targets.")(calibrate)
