"""The report in a real browser, loaded from the file system with every outside host blocked.

The report is generated from shipped cases that between them have every kind of cell and
section (SHIPPED) plus two fixtures (tests/report_cases/): one that disagrees at layers known
in advance (report_demo.yaml says why), and one full of markup in its free text
(report_escaping.yaml). Without Chromium or Playwright the tests skip with the reason; under
HARNESS_REQUIRE_FRAMEWORKS=1 (CI) they fail instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.entry.session import run_session
from tests.browser import PageErrors, launch, unavailable_reason

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "report_cases"
EXACT = "report_demo.exact_float32"
"""Every framework, the NumPy float32 port included, diverges at its layer `squash`."""
SLOPE = "report_demo.keras_float64_slope"
"""Keras alone diverges, at layer `leaky`."""
SHIPPED = ("seed000_dense_tanh.yaml", "defaults_leaky_relu.yaml", "seed005_sgd_trace.yaml",
           "port_mlp_training.yaml", "metrics_classifiers.yaml", "discovered_batchnorm_one_value_per_channel.yaml")
"""Passing cells, documented differences with hints, training plots, a port's column, metrics and
a skip with its reason: every kind of cell and section the pages draw. All of cases/ (which
`make report` renders, with the same templates) made this fixture the suite's slowest step
(47 s under xdist on two cores; these take 14 s alone, framework imports included)."""


@pytest.fixture(scope="module")
def browser():
    reason = unavailable_reason()
    if reason:
        if os.environ.get("HARNESS_REQUIRE_FRAMEWORKS", "") not in ("", "0"):
            pytest.fail(f"the report's browser test must run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(browser, tmp_path_factory) -> Path:
    """The report (written only once a browser is known to be there to read it)."""
    out = tmp_path_factory.mktemp("report") / "site"
    run_session([*(ROOT / "cases" / name for name in SHIPPED), FIXTURES / "report_demo.yaml",
                 FIXTURES / "report_escaping.yaml"],
                frameworks=None, out_dir=out, command="pytest tests/test_report_browser.py")
    return out


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors = PageErrors(page)
    yield page
    context.close()


def results(site: Path) -> dict:
    return json.loads((site / "results.json").read_text())


def test_index_renders_the_whole_matrix_without_errors(site, page):
    page.goto((site / "index.html").as_uri())
    data = results(site)
    # a cell per case and framework, and one per port of a case (ports are the columns after the
    # frameworks; a case without that port has no cell there)
    ports = sum(len(case.get("ports", [])) for case in data["cases"])
    assert page.locator("#matrix tbody td.cell").count() == len(data["cases"]) * len(data["frameworks"]) + ports
    assert page.locator("#matrix tbody tr").count() == len(data["cases"])
    cell = page.locator(f'#matrix tr[data-case="{EXACT}"] td[data-framework="numpy"]')
    assert cell.get_attribute("data-verdict") == "fail"
    assert "diverges at squash" in cell.inner_text()
    assert page.errors.messages == []


def test_a_failing_cell_opens_its_divergence_and_picture(site, page):
    page.goto((site / "index.html").as_uri())
    page.locator(f'#matrix tr[data-case="{EXACT}"] td[data-framework="numpy"] a').click()
    page.wait_for_load_state()
    assert page.url.endswith(f"cases/{EXACT}.html#numpy")
    block = page.locator("article#numpy")
    assert "Divergence starts here: layer squash" in block.inner_text()
    picture = block.locator("figure.starts-here img.heatmap")
    assert picture.count() == 1
    assert picture.evaluate("image => image.complete && image.naturalWidth") > 0
    assert page.locator("table.model tr.diverges").inner_text().startswith("squash")
    assert page.errors.messages == []


def test_keras_divergence_at_the_float32_slope(site, page):
    data = results(site)
    case = next(case for case in data["cases"] if case["id"] == SLOPE)
    if case["frameworks"]["keras"]["status"] != "ran":
        pytest.skip(f"keras did not run: {case['frameworks']['keras']['reason'].splitlines()[0]}")
    page.goto((site / "index.html").as_uri())
    row = page.locator(f'#matrix tr[data-case="{SLOPE}"]')
    assert row.locator('td[data-framework="keras"]').get_attribute("data-verdict") == "fail"
    assert "diverges at leaky" in row.locator('td[data-framework="keras"]').inner_text()
    for framework in ("numpy", "chainer", "torch"):
        assert row.locator(f'td[data-framework="{framework}"]').get_attribute("data-verdict") in ("pass", "skipped")
    page.goto((site / "cases" / f"{SLOPE}.html").as_uri() + "#keras")
    assert "Divergence starts here: layer leaky" in page.locator("article#keras").inner_text()
    assert page.errors.messages == []


def test_a_shipped_default_difference_is_one_click_from_the_index(site, page):
    """cases/defaults_leaky_relu.yaml documents torch's LeakyReLU slope (0.01, not 0.2): the
    index shows it as a documented finding, and one click shows the layer and its picture."""
    shipped = "defaults_leaky_relu.layer"
    case = next(case for case in results(site)["cases"] if case["id"] == shipped)
    if case["frameworks"]["torch"]["status"] != "ran":
        pytest.skip(f"torch did not run: {case['frameworks']['torch']['reason'].splitlines()[0]}")
    page.goto((site / "index.html").as_uri())
    cell = page.locator(f'#matrix tr[data-case="{shipped}"] td[data-framework="torch"]')
    assert cell.get_attribute("data-verdict") == "expected-difference"
    assert "diverges at leaky" in cell.inner_text()
    cell.locator("a").click()
    page.wait_for_load_state()
    block = page.locator("article#torch")
    assert "Divergence starts here: layer leaky" in block.inner_text()
    assert "0.01" in block.inner_text()  # the documented reason is on the page
    picture = block.locator("figure.starts-here img")
    assert picture.count() >= 1
    assert picture.first.evaluate("image => image.complete && image.naturalWidth") > 0
    assert page.errors.messages == []


def test_text_from_case_files_stays_text(site, page):
    page.goto((site / "cases" / "report_escaping.html").as_uri())
    assert page.evaluate("typeof window.__pwned") == "undefined"
    body = page.locator("body").inner_text()
    assert "<script>window.__pwned = \"description\"</script><b>not bold</b>" in body
    assert "<img src=x onerror=window.__pwned='layer'>" in body
    assert page.locator("img[src=x], b, i").count() == 0
    page.goto((site / "index.html").as_uri())
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.errors.messages == []


def test_filters_hide_frameworks_and_verdicts(site, page):
    page.goto((site / "index.html").as_uri())
    rows = page.locator("#matrix tbody tr")
    page.locator('#filters input[value="numpy"]').uncheck()
    assert page.locator('#matrix td.cell[data-framework="numpy"]').first.is_hidden()
    page.locator('#filters input[value="pass"]').uncheck()
    visible = [rows.nth(i).get_attribute("data-case") for i in range(rows.count()) if rows.nth(i).is_visible()]
    assert EXACT in visible
    assert "seed000_dense_tanh.single_point" not in visible
    assert page.errors.messages == []
