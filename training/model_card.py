"""The model card of a registered version: what a tumour board needs to review the basis of
a recommendation (TRIPOD+AI items), generated from the training run and logged with it as
``model_card.html``; the service serves the champion's at ``GET /model/card``."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field

import pandas as pd

from model.estimators.design import FEATURE_NAMES
from model.estimators.imputation import IMPUTED_INPUTS
from model.recommend.answer import SCOPE
from model.rules.derive import RULES_VERSION

LIMITATIONS = (
    "Trained and evaluated on synthetic cohorts generated from published rates, never on "
    "patients: every probability is a model output on synthetic data.",
    "The evidence behind the generator runs to about 2015 (cytokine and VEGF-TKI eras); "
    "checkpoint-inhibitor regimens, today's first line, are not considered.",
    "No randomised trial compares IL-2 first with a TKI first: the overall-survival "
    "difference comes from registry medians (PROCLAIM against IMDC), in which selection "
    "may account for part of the gap.",
    "Assumptions no published figure pins (e.g. the cost of the months on IL-2 before a "
    "TKI) are listed in data/synthetic/params.yaml with their reasons.",
    "Contraindications and the Manchester pathway are rules, applied before any score: a "
    "probability never hides a contraindication.",
    "The 95 % intervals carry the models' parameter uncertainty, and for survival and "
    "toxicity a model-error allowance measured on the training data; against the "
    "generator's truth, averaged over six training cohorts, 27 of 28 kinds cover it "
    "90-99 % of the time and one less (IL-2 overall survival at 24 months, for the "
    "best-prognosis patients); one model's coverage, in the table below, varies more: "
    "read an interval as a lower bound on the uncertainty.",
)


@dataclass
class CardFacts:
    """What the card says, gathered at training time."""

    model_name: str
    version: str
    run_id: str
    source: str
    n_rows: int
    config: dict
    generator_version: str
    metrics: dict[str, float]
    gate: list[str]
    policies_by_era: dict[str, pd.DataFrame] = field(default_factory=dict)
    tradeoff: pd.DataFrame | None = None
    coverage: pd.DataFrame | None = None
    figures: dict[str, bytes] = field(default_factory=dict)  # PNGs by name
    targets: pd.DataFrame | None = None


def render_card(facts: CardFacts) -> str:
    """The card as one self-contained HTML page (figures inlined)."""
    sections = [*_basis(facts), *_results(facts)]
    title = f"Model card: {facts.model_name} version {facts.version}"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='small'>MLflow run {html.escape(facts.run_id)}; "
        f"model outputs on synthetic data.</p>" + "".join(sections) + "</body></html>"
    )


def _basis(facts: CardFacts) -> list[str]:
    """Intended use, population and data, predictors, model types."""
    return [
        _section(
            "Intended use and users",
            "<p>Decision support for a tumour board choosing, for one patient with metastatic "
            "renal cell carcinoma, high-dose IL-2 first or a VEGF TKI first, and for clinic "
            "staff triaging lists along the Manchester pathway. Not for use without a "
            "specialist's review; not for checkpoint-inhibitor decisions.</p>"
            f"<p class='scope'>{html.escape(SCOPE)}</p>",
        ),
        _section(
            "Population, era and data",
            f"<p>Fitted on {facts.n_rows:,} patients ({html.escape(facts.source)}): one "
            "observed treatment each, chosen along the Manchester pathway with 20 % "
            "off-pathway choices. Synthetic cohorts of the <b>targeted era</b> (TKIs after "
            "progression), generator parameters version "
            f"{html.escape(facts.generator_version)}, calibrated to every figure of "
            "targets-v2.yaml (cytokine-era figures on cytokine-era cohorts).</p>"
            + (_table(facts.targets) if facts.targets is not None else ""),
        ),
        _section(
            "Predictors and unknown inputs",
            "<p>Predictors: "
            + ", ".join(html.escape(n) for n in FEATURE_NAMES if n != "intercept")
            + ". Inputs that may be unknown ("
            + ", ".join(html.escape(n) for n in IMPUTED_INPUTS)
            + ") are never set to a normal value: each parameter draw takes them from one of "
            "the patient's nearest complete training patients, so the intervals widen by as "
            "much as they matter; where they could change the recommendation the answer is "
            "provisional and names the work-up.</p>",
        ),
        _section(
            "Model types",
            "<p>Per strategy: logistic models of objective and complete response (complete "
            "given response chosen by BIC) and of IL-2 severe cardiac toxicity; progression-"
            "free and overall survival as a mixture over the best response (a mixture-cure "
            "Weibull model for IL-2 complete responders, Cox models elsewhere). 95 % "
            f"intervals from {facts.config.get('n_draws')} parameter draws made at fit time "
            "(survival ones widened by a model-error allowance measured on the training "
            "data). "
            f"Rules version {html.escape(RULES_VERSION)}.</p>",
        ),
    ]


def _results(facts: CardFacts) -> list[str]:
    """Quality, thresholds, policy value, the gate's verdict, limitations."""
    return [
        _section(
            "Discrimination and calibration against the truth", _quality(facts.metrics, facts)
        ),
        _section("Thresholds and the trade-off table", _thresholds(facts)),
        _section("Policy value", _policies(facts)),
        _section(
            "Promotion gate",
            "<ul>" + "".join(f"<li>{html.escape(g)}</li>" for g in facts.gate) + "</ul>",
        ),
        _section(
            "Limitations",
            "<ul>" + "".join(f"<li>{html.escape(t)}</li>" for t in LIMITATIONS) + "</ul>",
        ),
    ]


def _quality(m: dict[str, float], facts: CardFacts) -> str:
    rows = []
    for name in (
        "il2_p_response",
        "il2_p_complete_response",
        "tki_p_response",
        "il2_p_severe_cardiac_toxicity",
        "il2_p_cure",
    ):
        if f"{name}_auc" in m:
            rows.append(
                {
                    "quantity": name,
                    "AUC": m[f"{name}_auc"],
                    "AUC of the truth": m[f"{name}_auc_truth"],
                    "calibration error vs truth": m[f"{name}_calibration_error_vs_truth"],
                }
            )
    text = _table(pd.DataFrame(rows)) if rows else ""
    if "il2_p_cure_max_pattern_bias" in m:
        text += (
            f"<p>P(cure): largest |mean predicted − mean true| over the "
            f"{int(m['il2_p_cure_patterns_judged'])} covariate patterns of 1,000 or more "
            f"hold-out patients: {m['il2_p_cure_max_pattern_bias']:.3f}.</p>"
        )
    if facts.coverage is not None:
        text += "<h3>Coverage of the truth by every 95 % interval</h3>" + _table(facts.coverage)
    return text + _figure(facts, "reliability", "Reliability against outcomes and the truth")


def _thresholds(facts: CardFacts) -> str:
    c = facts.config
    text = (
        f"<p>IL-2 first needs a gain in P(durable complete remission) of at least "
        f"<b>{c.get('min_durable_gain')}</b> with a 95 % lower bound above zero, and P(severe "
        f"cardiac toxicity) at most <b>{c.get('max_p_toxicity')}</b>. These thresholds "
        "belong to this version; changing them means training a new version through the "
        "gate.</p>"
    )
    if facts.tradeoff is not None:
        text += "<h3>Trade-off table (targeted-era hold-out, per 1,000 patients)</h3>"
        text += _table(facts.tradeoff)
    return text + _figure(facts, "sweep", "Threshold sweep")


def _policies(facts: CardFacts) -> str:
    text = ""
    for era, table in facts.policies_by_era.items():
        keep = [c for c in table.columns if not c.startswith("diff_")]
        text += f"<h3>{html.escape(era)} era</h3>" + _table(table[keep].reset_index())
    return text or "<p>Real-format data: no synthetic truth to value policies against.</p>"


def _section(title: str, body: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{body}</section>"


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.3g}", border=0, escape=True)


def _figure(facts: CardFacts, key: str, caption: str) -> str:
    png = facts.figures.get(key)
    if png is None:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return (
        f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{html.escape(caption)} (model outputs on synthetic data)</figcaption>"
        "</figure>"
    )


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.45}table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}"
    "td,th{padding:.2rem .5rem;border-bottom:1px solid #ddd;text-align:right}"
    "img{max-width:100%}.small{color:#555;font-size:.85rem}.scope{font-style:italic}"
)
