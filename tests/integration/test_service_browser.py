"""The tumour-board page end to end in headless Chromium (Debian's ``chromium``, driven by
Python Playwright): enter the token, fill the form, submit, see the answer and the curves."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.service_fixtures import (  # noqa: F401  (fixtures)
    champion_tracking_uri,
    clinic_patients,
    service,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    # the test command installs Debian's chromium: its absence is a failure, not a skip
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: ./scripts/test.sh installs it"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 1600})
        yield context.new_page()
        browser.close()


def fill(page, patient: dict) -> None:
    for name, value in patient.items():
        selector = f"#f-{name}"
        kind = page.get_attribute(selector, "data-kind")
        text = "" if value is None else (str(value).lower() if kind == "boolean" else str(value))
        if page.eval_on_selector(selector, "e => e.tagName") == "SELECT":
            page.select_option(selector, text)
        else:
            page.fill(selector, text)


def test_tumour_board_page_end_to_end(service, page, tmp_path):
    page.goto(service.url + "/")
    assert "synthetic cohorts" in page.inner_text("#scope")
    page.fill("#token", "not-the-token")
    page.click("#token-save")
    page.wait_for_selector("#token-status:has-text('token refused')")

    page.fill("#token", service.token)
    page.click("#token-save")
    page.wait_for_selector("#f-ecog")
    assert page.evaluate("sessionStorage.getItem('il2select-token')") == service.token
    assert page.evaluate("localStorage.length") == 0

    # a patient with unknown inputs (the brief allows them) and a caution
    patient = next(p for p in clinic_patients() if p["karnofsky"] is None)
    fill(page, patient)
    page.click("#submit")
    page.wait_for_selector("#result:not([hidden]) #recommendation")
    recommendation = page.inner_text("#recommendation")
    assert recommendation in (
        "HD IL-2 first",
        "A TKI first",
        "Temsirolimus, a clinical trial, or symptomatic care",
    )
    assert page.locator("#reasons li").count() >= 1
    assert "P(objective response)" in page.inner_text("#probabilities")
    assert "–" in page.inner_text("#probabilities")  # intervals shown
    curves = page.locator("#survival-chart path.curve")
    assert curves.count() == 4
    for i in range(4):
        assert len(curves.nth(i).get_attribute("d")) > 200  # a drawn curve, not a stub
    bands = page.locator("#survival-chart path.band")  # each curve's 95 % band, drawn
    assert bands.count() == 4 and all(len(bands.nth(i).get_attribute("d")) > 400 for i in range(4))
    rows = page.inner_text("#probabilities")
    assert rows.count("(") >= 22  # an interval beside every estimate of both strategies
    assert "Contraindications" in page.inner_text("#eligibility")
    shown = page.inner_text("#pathway")  # both prognostic scores, as the answer gives them
    assert "MSKCC risk" in shown and "IMDC risk" in shown
    assert "checkpoint-inhibitor" in page.inner_text("#answer-scope")
    assert "policy thresholds of this version" in page.inner_text("#provenance")
    with page.context.expect_page() as opened:  # the model card, from the answer's link
        page.click("#model-card")
    card = opened.value
    card.wait_for_load_state()
    assert "Model card: il2select version" in card.inner_text("h1")
    text = card.inner_text("body")
    for section in (
        "Intended use",
        "Limitations",
        "Trade-off table",
        "Policy value",
        "Coverage of the truth",
    ):
        assert section in text, section
    card.close()
    page.screenshot(path=str(tmp_path / "answer.png"), full_page=True)
    page.emulate_media(media="print")
    assert page.is_hidden("#auth")
    page.emulate_media(media="screen")


def test_bad_input_is_shown_beside_the_field(service, page):
    page.goto(service.url + "/")
    page.wait_for_selector("#f-ecog")  # the token is still in this tab's sessionStorage
    page.click("#example")
    page.fill("#f-creatinine_mg_dl", "110")
    page.click("#submit")
    page.wait_for_selector(".field.invalid[data-field='creatinine_mg_dl']")
    assert "µmol/L" in page.inner_text(".field[data-field='creatinine_mg_dl'] .err")
