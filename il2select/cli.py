"""The ``il2select`` command: the one place that wires model, data, training and serving.

Each command is a few lines: parse options, call one function, format the answer.
"""

from __future__ import annotations

import typer

from il2select import (
    commands_audit,
    commands_models,
    commands_serve,
    commands_spark,
    commands_synth,
    commands_tokens,
)
from il2select.commands_triage import triage
from model.runtime import use_single_threaded_blas

app = typer.Typer(
    name="il2select",
    help="IL2Select: HD IL-2 first or a TKI first in metastatic renal cell carcinoma. "
    "Every probability is a model output on synthetic data; the scope is HD IL-2 versus "
    "VEGF-TKI on evidence to about 2015 (checkpoint inhibitors are not considered).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """IL2Select command line."""
    use_single_threaded_blas()


app.command(help="Triage a clinic list along the Manchester pathway (clinical rules only).")(triage)

for _commands in (
    commands_synth,
    commands_models,
    commands_spark,
    commands_serve,
    commands_tokens,
    commands_audit,
):
    _commands.register(app)


def main() -> None:
    app()
