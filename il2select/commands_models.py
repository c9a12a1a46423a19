"""``il2select train | evaluate | promote | compare | predict``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, get_type_hints

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from il2select.commands_triage import INPUT_HELP, REFERENCE_DATE_HELP
from il2select.progress import row_progress
from model.contract.errors import ContractError
from model.recommend.training_config import TrainingConfig
from model.settings import get_settings

err = Console(stderr=True)
out = Console()
EXIT_BAD_INPUT = 2
EXIT_GATE_FAILED = 3


def with_training_config(command: Callable[..., None]) -> Callable[..., None]:
    """Add one option per ``TrainingConfig`` field (``--n-draws``, ``--min-durable-gain``,
    …) to ``command``, which receives them as ``config``; a value out of range is a clear
    error, not a traceback."""
    fields = TrainingConfig.model_fields

    @wraps(command)
    def wrapper(**kwargs: Any) -> None:
        chosen = {name: kwargs.pop(name) for name in fields if kwargs.get(name) is not None}
        for name in fields:
            kwargs.pop(name, None)
        try:
            config = TrainingConfig(**chosen)
        except ValidationError as exc:
            problems = "; ".join(
                f"--{e['loc'][0].replace('_', '-')}={e['input']}: {e['msg']}" for e in exc.errors()
            )
            err.print(f"[red]error:[/red] {problems}", highlight=False)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        command(config=config, **kwargs)

    hints = get_type_hints(command, include_extras=True)  # this module's annotations are text
    own = [
        p.replace(annotation=hints[p.name])
        for p in inspect.signature(command).parameters.values()
        if p.name != "config"
    ]
    added = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[
                field.annotation | None,
                typer.Option(help=f"{field.description} (default {field.default})"),
            ],
        )
        for name, field in fields.items()
    ]
    wrapper.__signature__ = inspect.Signature(own + added)
    return wrapper


@with_training_config
def train(
    n: Annotated[int, typer.Option(help="Synthetic observed patients to train on.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic training cohort.")] = 1,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Train on this real-format table instead (features, treatment, outcomes)."
        ),
    ] = None,
    holdout_n: Annotated[int, typer.Option(help="Synthetic hold-out size.")] = 50_000,
    holdout_seed: Annotated[int, typer.Option(help="Seed of the hold-out.")] = 2,
    config: TrainingConfig | None = None,
) -> None:
    """Fit, evaluate, register a version and run the promotion gate (passing versions
    become @champion, failing ones @challenger; the reason is logged). Every
    hyper-parameter below is logged as an MLflow param and travels with the version."""
    from serving.tables import read_table
    from training.train import train_and_register

    try:
        frame = read_table(data) if data is not None else None
        result = train_and_register(
            get_settings(),
            n=n,
            seed=seed,
            data=frame,
            holdout_n=holdout_n,
            holdout_seed=holdout_seed,
            config=config,
            log=lambda m: err.print(m, highlight=False),
        )
    except ContractError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    out.print(f"run {result.run_id}: version {result.version} -> @{result.alias}")
    if not result.passed:
        raise typer.Exit(EXIT_GATE_FAILED)


def evaluate(
    model_uri: Annotated[str | None, typer.Option(help="Default: the @champion.")] = None,
    n: Annotated[int, typer.Option(help="Synthetic hold-out size.")] = 50_000,
    seed: Annotated[int, typer.Option(help="Hold-out seed.")] = 3,
    out_dir: Annotated[Path, typer.Option("--out", help="Plots and tables.")] = Path("out/eval"),
) -> None:
    """Score a registered model on a fresh synthetic hold-out with its truth; the metrics,
    plots and tables are also logged to an MLflow run (the one ``mlflow run`` started)."""
    import mlflow

    from training.evaluate import evaluate as run_evaluation
    from training.evaluate import holdout_cohort, log_evaluation, write_tables
    from training.tracking import training_run

    settings = get_settings()
    uri = model_uri or settings.champion_uri
    recommender = _load_or_exit(uri)
    hold = holdout_cohort(n, seed)
    cytokine = holdout_cohort(n, seed, era="cytokine")
    evaluation = run_evaluation(recommender, hold, other_eras={"cytokine": cytokine})
    paths = write_tables(evaluation, hold, out_dir)
    with training_run(settings, "evaluate") as run:
        mlflow.log_params({"model_uri": uri, "holdout_n": n, "holdout_seed": seed})
        mlflow.log_metrics({k: float(v) for k, v in evaluation.metrics.items()})
        log_evaluation(evaluation, hold, paths)
    table = Table(title=f"{uri} on {n:,} synthetic patients (run {run.info.run_id})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in evaluation.metrics.items():
        if not key.startswith("eligible_"):
            table.add_row(key, f"{value:.4f}")
    out.print(table)
    from il2select.views import policy_value_view, tradeoff_view

    for era, policies in evaluation.policies_by_era.items():
        out.print(policy_value_view(policies, f"policy value, {era} era (per 1,000 patients)"))
        out.print(tradeoff_view(evaluation.sweep_by_era[era], f"trade-off table, {era} era"))
    out.print(f"plots and tables: {', '.join(str(p) for p in paths.values())}")


def promote(
    version: Annotated[str, typer.Option(help="Model version to make @champion.")],
    reason: Annotated[str, typer.Option(help="Why (logged).")] = "promoted by hand",
) -> None:
    """Move @champion to a version by hand (roll back or forward)."""
    from model.recommend.pyfunc import IncompatibleModel, NoChampion, find_version
    from training.registry import move_alias

    settings = get_settings()
    try:  # a version the service could not load is never made the champion
        find_version(settings.tracking_uri, settings.model_name, version=version)
    except (NoChampion, IncompatibleModel) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    out.print(move_alias(settings, settings.champion_alias, version, reason))


def compare(run_a: str, run_b: str) -> None:
    """Print two runs' metrics side by side."""
    from model.recommend.pyfunc import registry_client

    client = registry_client(get_settings().tracking_uri)
    a, b = client.get_run(run_a).data.metrics, client.get_run(run_b).data.metrics
    table = Table(title="metrics")
    for name in ("metric", run_a[:8], run_b[:8], "b - a"):
        table.add_column(name, justify="right" if name != "metric" else "left")
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        delta = f"{vb - va:+.4f}" if va is not None and vb is not None else ""
        table.add_row(key, _fmt(va), _fmt(vb), delta)
    out.print(table)


def _load_or_exit(uri: str):
    from model.recommend.pyfunc import IncompatibleModel, NoChampion, load_recommender

    try:
        return load_recommender(uri, get_settings().tracking_uri)
    except (NoChampion, IncompatibleModel) as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def predict(
    input_path: Annotated[Path, typer.Option("--in", help=INPUT_HELP)],
    output_path: Annotated[Path, typer.Option("--out", help="Predictions, .csv or .parquet.")],
    model_uri: Annotated[str | None, typer.Option(help="Default: the @champion.")] = None,
    errors_path: Annotated[
        Path | None, typer.Option("--errors", help="Write bad rows here and predict the rest.")
    ] = None,
    reference_date: Annotated[
        datetime | None,
        typer.Option("--reference-date", formats=["%Y-%m-%d"], help=REFERENCE_DATE_HELP),
    ] = None,
) -> None:
    """Per row, in input order: patient_id and both strategies' predictions with 95 %
    intervals, the recommendation and its reasons (model outputs on synthetic data)."""
    from model.contract.tables import validate_table
    from serving.tables import read_table

    try:
        raw = read_table(input_path, reference_date.date() if reference_date else None)
        report = validate_table(raw)
    except ContractError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    reasons = report.reasons_by_row()
    if len(reasons) and errors_path is None:
        for row, text in reasons.head(50).items():
            err.print(f"row {row}: {text}", highlight=False, soft_wrap=True)
        err.print(f"[red]{len(reasons)} bad row(s); nothing written.[/red] Use --errors FILE.")
        raise typer.Exit(1)
    recommender = _load_or_exit(model_uri or get_settings().champion_uri)
    typed = report.typed[report.valid].reset_index(drop=True)
    with row_progress("predict", len(typed)) as advance:
        frame = recommender.predict_frame(typed)
        advance(len(typed))
    _write(frame, output_path)
    if errors_path is not None:
        rejected = raw[~report.valid].reset_index(drop=True)
        rejected.insert(0, "row", reasons.index.to_numpy())
        rejected["errors"] = reasons.to_numpy()
        _write(rejected, errors_path)
    err.print(
        f"{len(raw)} rows in: {len(frame)} predicted to {output_path}, {len(reasons)} bad",
        highlight=False,
    )
    if len(reasons):
        raise typer.Exit(1)


def _write(frame, path: Path) -> None:
    from serving.tables import TableWriter

    writer = TableWriter(path)
    writer.write(frame)
    writer.close(list(frame.columns))


def register(app: typer.Typer) -> None:
    app.command(help="Train, evaluate, register and gate a model.")(train)
    app.command(help="Score a registered model on a synthetic hold-out.")(evaluate)
    app.command(help="Move @champion to a model version by hand.")(promote)
    app.command(help="Print two MLflow runs' metrics side by side.")(compare)
    app.command(help="Predictions and recommendations for a table of patients.")(predict)
