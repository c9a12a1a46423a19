"""CDS Hooks cards: views of one ``PatientAnswer`` (its shape is not re-implemented here).

A card has a summary under 140 characters, an indicator (``warning`` for a contraindication
to HD IL-2, a provisional answer or an unknown eligibility, else ``info``), a Markdown
detail with both strategies' probabilities and 95 % intervals exactly as answered, the
reasons, cautions, the inputs the record leaves unknown and the scope statement, and its
source: the model version with a link to its model card. The answer itself rides along in
the card's ``extension`` (CDS Hooks reserves that name for such agreed content), so that a
client can read the numbers without parsing Markdown.
"""

from __future__ import annotations

from typing import Any

from model.recommend.answer import SCOPE
from model.rules.eligibility import RULE_TEXT

MAX_SUMMARY_CHARS = 139  # the specification: "<140-character"
ANSWER_EXTENSION = "org.il2select.answer"
OVERRIDE_SYSTEM = "urn:il2select:cds:override-reason"
OVERRIDE_REASONS = [
    {"system": OVERRIDE_SYSTEM, "code": code, "display": display}
    for code, display in (
        ("clinical-judgement", "Clinical judgement differs (the reason in the comment)"),
        ("patient-preference", "The patient prefers another strategy"),
        ("record-incomplete", "The record is incomplete or wrong"),
        ("trial-enrolment", "Enrolling the patient in a trial"),
        ("outside-scope", "A checkpoint-inhibitor regimen is planned (outside this tool)"),
    )
]
STRATEGIES = {
    "il2_first": "HD IL-2 first",
    "tki_first": "VEGF-TKI first",
    "temsirolimus_or_trial": "temsirolimus or a trial",
    "il2_after_wait": "HD IL-2 once temporary conditions have cleared",
    "complete_workup_first": "complete the work-up first",
}
ROWS = (  # (label, key in StrategyOutlook, months?)
    ("P(response)", "p_response", False),
    ("P(complete response)", "p_complete_response", False),
    ("P(cure)", "p_cure", False),
    ("P(severe cardiac toxicity)", "p_severe_cardiac_toxicity", False),
    ("Median OS, months", "median_os_months", True),
    ("Median PFS, months", "median_pfs_months", True),
)


def recommendation_card(
    answer: dict, unknown: dict[str, str], card_uuid: str, source: dict, links: list[dict]
) -> dict:
    """The card of one answer (``PatientAnswer`` as JSON) computed from FHIR resources;
    ``unknown``: the inputs the record left unknown, each with why."""
    eligibility = answer["eligibility"]
    warn = bool(eligibility["contraindications"]) or answer["provisional"]
    warn = warn or eligibility["il2_eligible"] is None
    return {
        "uuid": card_uuid,
        "summary": _summary(answer),
        "indicator": "warning" if warn else "info",
        "detail": _detail(answer, unknown),
        "source": source,
        "overrideReasons": OVERRIDE_REASONS,
        "links": links,
        "extension": {ANSWER_EXTENSION: answer},
    }


def incomplete_record_card(
    problems: list[tuple[str, str]], unknown: dict[str, str], card_uuid: str, source: dict
) -> dict:
    """The card when the record does not give what the model needs (``problems``: field,
    rule): what is missing and which resource would settle it, no numbers."""
    lines = [
        "IL2Select gives no recommendation: the record lacks inputs the model requires.",
        "",
        "**What the record must give**",
        *(f"- `{field}`: {unknown.get(field, rule)}" for field, rule in problems),
    ]
    others = {k: v for k, v in unknown.items() if k not in dict(problems)}
    if others:
        lines += ["", "**Also unknown (allowed, but they widen the answer)**"]
        lines += [f"- `{field}`: {why}" for field, why in sorted(others.items())]
    lines += ["", f"*{SCOPE}*"]
    return {
        "uuid": card_uuid,
        "summary": _short(f"IL2Select cannot assess: {len(problems)} required input(s) missing"),
        "indicator": "warning",
        "detail": "\n".join(lines),
        "source": source,
        "overrideReasons": OVERRIDE_REASONS,
    }


def source_of(provenance: dict, card_url: str) -> dict:
    version = provenance.get("model_version") or "?"
    return {"label": f"IL2Select {provenance['model_name']} v{version}", "url": card_url}


def _summary(answer: dict) -> str:
    strategy = STRATEGIES[answer["recommendation"]]
    il2, tki = answer["il2"]["p_response"]["value"], answer["tki"]["p_response"]["value"]
    text = f"IL2Select: {strategy} (response {il2:.0%} IL-2, {tki:.0%} TKI)"
    eligibility = answer["eligibility"]
    if eligibility["contraindications"]:
        text += "; IL-2 contraindicated"
    elif eligibility["il2_eligible"] is None:
        text += "; IL-2 eligibility unknown"
    if answer["provisional"]:
        text += "; provisional"
    return _short(text)


def _short(text: str) -> str:
    return text if len(text) <= MAX_SUMMARY_CHARS else text[: MAX_SUMMARY_CHARS - 1] + "…"


def _detail(answer: dict, unknown: dict[str, str]) -> str:
    eligibility = answer["eligibility"]
    lines = [f"**Recommendation: {STRATEGIES[answer['recommendation']]}**", ""]
    lines += ["| 95 % interval in brackets | HD IL-2 first | VEGF-TKI first |", "|---|---|---|"]
    for label, key, months in ROWS:
        cells = [_estimate(answer[name].get(key), months) for name in ("il2", "tki")]
        if cells != ["—", "—"]:
            lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    lines += _section("Reasons", answer["reasons"])
    lines += _section("Contraindications to HD IL-2", _names(eligibility["contraindications"]))
    lines += _section(
        "Contraindications not known (the record does not say)",
        _names(eligibility["contraindications_unknown"]),
    )
    lines += _section("Cautions", _names(eligibility["cautions"]))
    if answer["provisional"]:
        lines += _section("Provisional: this work-up could change the answer", answer["workup"])
    lines += _section(
        "Unknown in the record (and what would settle it)",
        [f"`{field}`: {why}" for field, why in sorted(unknown.items())],
    )
    lines += _section("Warnings", answer["warnings"])
    if answer.get("deviation_reason"):
        lines += _section("Departs from the Manchester pathway", [answer["deviation_reason"]])
    lines += ["", f"*{answer['scope']}*"]
    return "\n".join(lines)


def _estimate(estimate: dict | None, months: bool) -> str:
    """A value as answered (4 decimals for probabilities, 2 for months: the answer's own
    rounding, so the card's numbers are the answer's) with its interval."""
    if estimate is None or estimate.get("value") is None:
        return "not reached" if estimate is not None and months else "—"
    digits = 2 if months else 4
    text = f"{estimate['value']:.{digits}f}"
    if estimate.get("lo") is not None:
        hi = "not reached" if estimate.get("hi") is None else f"{estimate['hi']:.{digits}f}"
        text += f" ({estimate['lo']:.{digits}f}–{hi})"
    return text


def _section(title: str, items: list[Any]) -> list[str]:
    return ["", f"**{title}**", *(f"- {item}" for item in items)] if items else []


def _names(codes: list[str]) -> list[str]:
    """Each rule in words, with its name as the answer gives it."""
    return [f"{RULE_TEXT.get(code, code)} (`{code}`)" for code in codes]
