"""The report without a browser: pictures, the atomic swap, escaping, junit.xml, the hooks.

Runs use the `numpy` backend only (the reference code in float32), which needs no framework
and fails the fixture report_demo.exact_float32 at a layer known in advance: its first layer
is exact in float32 by construction, its second (tanh) is not.
"""

from __future__ import annotations

import os
import re
import struct
import time
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import numpy as np
import pytest

from harness.backends import UnavailableBackend
from harness.backends.base import Backend
from harness.entry.cli import main
from harness.common.compare import Tolerance, elementwise_errors
from harness.common.errors import CaseError
from harness.output.report import site as site_module
from harness.output.report.case_view import worst_elements
from harness.output.report.pictures import HEATMAP_MAX_SIDE, LEVELS, MAX_DECADES, PALETTE, heatmap, histogram, png
from harness.output.report.sections import CASE_SECTIONS, Section, case_section
from harness.output.report.swap import MARKER, replace_directory
from harness.entry.session import run_session

FIXTURES = Path(__file__).resolve().parent / "report_cases"
DEMO = FIXTURES / "report_demo.yaml"
ESCAPING = FIXTURES / "report_escaping.yaml"


def run_numpy(paths, out: Path):
    return run_session(list(paths), frameworks=["numpy"], out_dir=out, command="test")


def decode_png(data: bytes) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Read back an 8-bit indexed PNG, checking every chunk's CRC (PNG spec, section 5)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, {}
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        tag = data[position + 4:position + 8]
        body = data[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length:position + 12 + length])
        assert crc == zlib.crc32(tag + body), tag
        chunks[tag] = body
        position += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour_type) == (8, 3)
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), dtype=np.uint8).reshape(height, width + 1)
    assert (rows[:, 0] == 0).all()  # filter type 0 on every scanline
    palette = [tuple(chunks[b"PLTE"][i:i + 3]) for i in range(0, len(chunks[b"PLTE"]), 3)]
    return rows[:, 1:], palette


def test_png_round_trips_and_is_byte_identical():
    indices = np.arange(7 * 5, dtype=np.uint8).reshape(7, 5)
    data = png(indices, PALETTE)
    decoded, palette = decode_png(data)
    np.testing.assert_array_equal(decoded, indices)
    assert palette == PALETTE and len(palette) == 256
    assert png(indices, PALETTE) == data


def test_heatmap_pools_by_block_maximum_so_the_worst_element_shows():
    difference = np.zeros((3 * HEATMAP_MAX_SIDE, 10))
    difference[200, 7] = 5.0
    difference[0, 0] = 2.5
    picture = heatmap(difference)
    assert picture.block == (3, 1) and (picture.rows, picture.columns) == (HEATMAP_MAX_SIDE, 10)
    assert picture.maximum == 5.0
    import base64
    pixels, _ = decode_png(base64.b64decode(picture.uri.split(",", 1)[1]))
    assert pixels[200 // 3, 7] == LEVELS - 1  # brightest: the largest difference
    assert pixels[0, 0] == round(0.5 * (LEVELS - 1))
    assert (pixels != 0).sum() == 2


def test_heatmap_marks_non_finite_differences():
    difference = np.array([[0.0, np.inf], [1.0, 0.5]])
    picture = heatmap(difference)
    assert picture.nonfinite == 1 and picture.maximum == 1.0


def test_histogram_counts_every_differing_element_once():
    rng = np.random.default_rng(0)
    expected = rng.normal(size=1000)
    actual = expected + rng.normal(scale=1e-6, size=1000) * (rng.random(1000) < 0.7)
    difference, allowed = elementwise_errors(actual, expected, Tolerance(0.0, 1e-6))
    picture = histogram(difference, allowed)
    counts = [int(n) for n in re.findall(r"<title>(\d+)</title>", picture.svg)]
    assert sum(counts) == int((difference > 0).sum())
    assert picture.equal == int((difference == 0).sum())
    red = re.findall(r'fill="#d0453a"><title>(\d+)</title>', picture.svg)
    assert sum(map(int, red)) == int((difference > allowed).sum())


def test_non_finite_values_differ_unless_both_sides_hold_the_same_one():
    actual = np.array([1.0, np.inf, np.nan, np.inf, 2.0, 3.0])
    expected = np.array([1.5, np.inf, np.nan, -np.inf, np.nan, 3.0])
    difference, _ = elementwise_errors(actual, expected, Tolerance(0.0, 0.0))
    assert difference.tolist() == [0.5, 0.0, 0.0, np.inf, np.inf, 0.0]


def test_worst_elements_come_in_order_of_tolerance_used():
    expected = np.array([1.0, 100.0, 0.0, 3.0])
    actual = np.array([1.1, 101.0, 0.05, 3.0])
    difference, allowed = elementwise_errors(actual, expected, Tolerance(1e-2, 1e-3))
    rows = worst_elements(actual, expected, difference, allowed)
    # |d| / allowed: 0.1 / 0.011 = 9.1, 1 / 1.001 = 1.0, 0.05 / 0.001 = 50, 0
    assert [row.index for row in rows] == [(2,), (0,), (1,), (3,)]
    assert rows[0].actual == 0.05 and rows[0].expected == 0.0 and rows[0].out_of_tolerance


# --- the summary the pictures are drawn from, against whole arrays -------------------------

def whole_array_histogram(difference, allowed):
    """The histogram's bars written out on whole arrays with np.histogram (the way the report
    drew them before it summarised block by block)."""
    difference, allowed = difference.ravel(), allowed.ravel()
    shown = (difference > 0) & np.isfinite(difference)
    logs = np.log10(difference[shown])
    out = (difference > allowed)[shown]
    high = int(np.ceil(logs.max())) if logs.size else 0
    low = max(int(np.floor(logs.min())) if logs.size else -1, high - MAX_DECADES)
    low = min(low, high - 1)
    edges = np.linspace(low, high, (high - low) * 2 + 1)
    clipped = np.clip(logs, low, high)
    return edges, np.histogram(clipped[~out], bins=edges)[0], np.histogram(clipped[out], bins=edges)[0]


def whole_array_worst(difference, allowed, count=8):
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(difference == 0, 0.0, difference / allowed)
    flat_ratio = np.nan_to_num(ratio.ravel(), nan=np.inf, posinf=np.inf)
    order = np.lexsort((difference.ravel(), flat_ratio))[::-1][:count]
    return [tuple(int(i) for i in np.unravel_index(int(flat), difference.shape)) for flat in order]


def rough_pair(rng, shape):
    """Arrays whose errors have ties (repeated and zero differences), infinities and NaN."""
    expected = rng.normal(size=shape)
    actual = expected + rng.choice([0.0, 1e-6, 2e-6, 1e-3], size=shape) * rng.choice([-1, 1], size=shape)
    flat_actual, flat_expected = actual.reshape(-1), expected.reshape(-1)
    flat_expected[rng.random(flat_expected.size) < 0.05] = 0.0
    for value in (np.inf, np.nan):
        flat_actual[rng.random(flat_actual.size) < 0.001] = value
    return actual.astype(np.float32), expected


@pytest.mark.parametrize("shape", [(300, 700), (5, 1, 4000), (97, 3), (2, 3, 40000), (70000,), (7, 11, 13)])
def test_summary_gives_the_pictures_of_whole_arrays(shape, monkeypatch):
    import harness.common.compare as compare_module
    from harness.output.report.error_summary import summarize
    from harness.output.report.pictures import heatmap_of, histogram_of

    monkeypatch.setattr(compare_module, "BLOCK", 4096)  # many blocks, even for small shapes
    rng = np.random.default_rng(sum(shape))
    actual, expected = rough_pair(rng, shape)
    tolerance = Tolerance(1e-4, 1e-5)
    difference, allowed = elementwise_errors(actual, expected, tolerance)
    summary = summarize(actual, expected, tolerance)
    kept = [side for side in shape if side != 1]
    if len(kept) == 2:
        assert heatmap_of(summary.pooled) == heatmap(difference.reshape(kept))
        assert summary.counts is None
    else:
        edges, within, out = summary.counts.bars(MAX_DECADES)
        want_edges, want_within, want_out = whole_array_histogram(difference, allowed)
        np.testing.assert_array_equal(edges, want_edges)
        np.testing.assert_array_equal(within, want_within)
        np.testing.assert_array_equal(out, want_out)
        assert histogram_of(summary.counts).equal == int((difference == 0).sum())
        assert histogram_of(summary.counts).nonfinite == int((~np.isfinite(difference)).sum())
    rows = worst_elements(actual, expected, difference, allowed)
    assert [row.index for row in rows] == whole_array_worst(difference, allowed)
    assert [tuple(int(i) for i in np.unravel_index(int(flat), shape)) for flat in summary.worst.index] == \
        whole_array_worst(difference, allowed)


def test_half_decades_are_those_of_float64_log10_across_the_whole_double_range():
    from harness.output.report.error_summary import half_decades

    rng = np.random.default_rng(11)
    spread = 10.0 ** rng.uniform(-323, 308, size=200_000)
    edges = 10.0 ** (np.arange(-646, 617) / 2)  # at, and one ulp around, every half-decade edge
    values = np.concatenate([spread, edges, np.nextafter(edges, 0), np.nextafter(edges, np.inf),
                             [5e-324, 1e-310, np.finfo(np.float64).max]])
    values = values[(values > 0) & np.isfinite(values)]
    np.testing.assert_array_equal(half_decades(values), np.floor(2 * np.log10(values)))


def test_worst_elements_break_ties_as_a_lexsort_of_the_whole_tensor():
    # Every element equal: the order falls to the index, the later one first.
    values = np.ones((50, 3))
    difference, allowed = elementwise_errors(values, values, Tolerance(0.0, 1e-6))
    rows = worst_elements(values, values, difference, allowed)
    assert [row.index for row in rows] == whole_array_worst(difference, allowed)
    assert rows[0].index == (49, 2)


def test_report_names_the_divergent_layer_and_draws_it(tmp_path):
    session = run_numpy([DEMO], tmp_path / "site")
    assert {r.case.id for r in session.reports} == {"report_demo.exact_float32", "report_demo.keras_float64_slope"}
    index = (tmp_path / "site" / "index.html").read_text()
    assert "diverges at <code>squash</code>" in index
    assert 'href="cases/report_demo.exact_float32.html#numpy"' in index
    page = (tmp_path / "site" / "cases" / "report_demo.exact_float32.html").read_text()
    assert "Divergence starts here: layer <code>squash</code>" in page
    assert page.count("data:image/png;base64,") >= 1
    assert "divergence starts here: numpy" in page  # the model table's row
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page


def test_text_from_case_files_is_escaped(tmp_path):
    run_numpy([ESCAPING], tmp_path / "site")
    for path in [tmp_path / "site" / "index.html", *(tmp_path / "site" / "cases").glob("*.html")]:
        text = path.read_text()
        assert "<script>window" not in text and "<img src=x" not in text and "<b>not" not in text
    page = (tmp_path / "site" / "cases" / "report_escaping.html").read_text()
    assert "&lt;img src=x onerror=window.__pwned=&#39;layer&#39;&gt;" in page
    assert "&lt;script&gt;window.__pwned = &#34;comment&#34;&lt;/script&gt;" in page  # the file


def test_run_writes_results_and_junit_beside_the_pages(tmp_path):
    out = tmp_path / "site"
    assert main(["run", str(DEMO), "--frameworks", "numpy", "--out", str(out)]) == 1
    assert {p.name for p in out.iterdir()} == {"index.html", "cases", "results.json", "junit.xml", "README.md",
                                               MARKER}
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases) == 2 * 3
    failed = {c.get("classname") + "::" + c.get("name") for c in cases if c.find("failure") is not None}
    assert int(suite.get("failures")) == len(failed)
    assert "report_demo.exact_float32::numpy::intermediates" in failed
    intermediates = next(c for c in cases if c.get("classname") == "report_demo.exact_float32"
                         and c.get("name") == "numpy::intermediates")
    properties = {p.get("name"): p.get("value") for p in intermediates.iter("property")}
    assert properties["first_divergent_layer"] == "squash"


def test_an_interrupted_write_leaves_the_previous_report(tmp_path):
    out = tmp_path / "site"
    run_numpy([DEMO], out)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def write_half(staging: Path) -> None:
        (staging / "index.html").write_text("<html>half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replace_directory(out, write_half)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    # No staging directory left; the lock file stays (removing it would race another run's flock).
    assert sorted(p.name for p in tmp_path.iterdir()) == [".site.lock", "site"]


def test_an_error_while_rendering_touches_nothing(tmp_path, monkeypatch):
    out = tmp_path / "site"
    run_numpy([DEMO], out)
    before = (out / "index.html").read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("rendering failed")

    monkeypatch.setattr(site_module, "render_site", broken)
    with pytest.raises(RuntimeError):
        run_numpy([DEMO], out)
    assert (out / "index.html").read_bytes() == before


def test_a_directory_of_other_files_is_not_replaced(tmp_path):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "README.md").write_text("mine")
    with pytest.raises(CaseError, match="README.md"):
        replace_directory(out, lambda staging: None)
    assert (out / "README.md").read_text() == "mine"


def test_an_older_report_without_marker_is_replaced_and_leftovers_removed(tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    (out / "index.html").write_text("old")
    (out / "results.json").write_text("{}")
    leftover = tmp_path / ".site.abc.partial"
    leftover.mkdir()
    old = time.time() - 3600
    os.utime(leftover, (old, old))
    replace_directory(out, lambda staging: (staging / "index.html").write_text("new"))
    assert (out / "index.html").read_text() == "new" and not (out / "results.json").exists()
    assert not leftover.exists()
    assert oct(out.stat().st_mode & 0o777) != oct(0o700)  # readable, not mkdtemp's private mode


def test_a_registered_case_section_appears_on_every_case_page(tmp_path):
    @case_section(order=50)
    def training(view):
        return Section("training", "Training <steps>", "sections/load_errors.html.j2",
                       data=[f"{view.case.id}: <no steps yet>"])

    try:
        run_numpy([DEMO], tmp_path / "site")
    finally:
        CASE_SECTIONS[:] = [entry for entry in CASE_SECTIONS if entry[1] is not training]
    page = (tmp_path / "site" / "cases" / "report_demo.exact_float32.html").read_text()
    assert '<section id="training">' in page and "Training &lt;steps&gt;" in page
    assert "report_demo.exact_float32: &lt;no steps yet&gt;" in page
    assert page.index('id="comparisons"') < page.index('id="training"') < page.index('id="source"')


class Crashing(Backend):
    """A framework whose run raises (its message carries markup)."""

    name = "torch"

    def run(self, case):
        raise RuntimeError("boom <b>in torch</b>")


def test_skips_and_errors_show_their_reasons(tmp_path, monkeypatch):
    import harness.checks.runner as runner

    stand_ins = {"chainer": UnavailableBackend("chainer", "chainer is not here <i>today</i>"),
                 "torch": Crashing()}
    real = runner.get_backend
    monkeypatch.setattr(runner, "get_backend", lambda name: stand_ins.get(name) or real(name))
    out = tmp_path / "site"
    run_session([DEMO], frameworks=["numpy", "chainer", "torch"], out_dir=out, command="test")
    index = (out / "index.html").read_text()
    assert 'class="cell skipped" data-verdict="skipped" data-framework="chainer"' in index
    assert 'class="cell error" data-verdict="error" data-framework="torch"' in index
    assert "chainer is not here &lt;i&gt;today&lt;/i&gt;" in index  # the "why" column
    assert "RuntimeError: boom &lt;b&gt;in torch&lt;/b&gt;" in index
    page = (out / "cases" / "report_demo.exact_float32.html").read_text()
    assert "<strong>skipped:</strong> chainer is not here &lt;i&gt;today&lt;/i&gt;" in page
    assert "<strong>error:</strong> RuntimeError: boom &lt;b&gt;in torch&lt;/b&gt;" in page
    assert "Traceback (most recent call last)" in page
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert int(suite.get("errors")) == 6 and int(suite.get("skipped")) == 6


def test_a_case_file_that_does_not_load_is_listed_on_the_index(tmp_path):
    broken = tmp_path / "cases" / "broken.yaml"
    broken.parent.mkdir()
    broken.write_text("name: broken\ndescription: <script>x</script>\nmodel: {sequential: [{type: Dens}]}\n")
    session = run_session([broken, DEMO], frameworks=["numpy"], out_dir=tmp_path / "site", command="test")
    assert len(session.results["load_errors"]) == 1
    index = (tmp_path / "site" / "index.html").read_text()
    assert '<section id="load-errors">' in index and "broken.yaml" in index
    assert "unknown type &#39;Dens&#39;" in index and "<script>x" not in index


def test_every_report_writes_the_tracked_reports_readme():
    """reports/ is replaced whole by each run; the README kept in git is one of its files."""
    from pathlib import Path

    from harness.output.report.swap import REPORTS_README

    tracked = Path(__file__).resolve().parent.parent / "reports" / "README.md"
    assert REPORTS_README.read_text() == tracked.read_text()


def test_the_repositorys_reports_directory_is_accepted_and_keeps_its_readme(tmp_path):
    """A fresh clone's reports/ holds only the tracked README: `--out reports/` must work."""
    from harness.output.report.swap import REPORTS_README

    out = tmp_path / "reports"
    out.mkdir()
    (out / "README.md").write_bytes(REPORTS_README.read_bytes())
    main(["run", str(DEMO), "--frameworks", "numpy", "--out", str(out)])
    assert (out / "index.html").exists()
    assert (out / "README.md").read_bytes() == REPORTS_README.read_bytes()
