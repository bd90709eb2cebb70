"""A port's hint said from the port's side (issue 24): beyond the gate order, every transform reads
as what the port's code does ("your kernel is read transposed", "your code's bias is dropped"),
in the check's message, results and the case page; and the per-gate table is a section of the
case page for a recurrent layer whose gradients differ."""

from __future__ import annotations

import pytest
import yaml

from harness.checks.runner import FAIL, CaseRunner
from harness.weights import cases_from_data
from tests.test_ports import PORTS, THREE_DENSE, with_port


def port_checks(function):
    case, name = with_port(cases_from_data(THREE_DENSE)[0], f"{function}=wrong_ports.py:{function}")
    runner = CaseRunner(case)
    return name, {check: runner.check(name, check) for check in runner.checks()}


@pytest.mark.parametrize("function, said", [
    ("dense_untransposed", "in layer second, your kernel is read transposed"),
    ("dense_missing_bias", "in layer third, your code's bias is dropped"),
])
def test_a_port_hint_says_what_the_port_does(function, said):
    _, checks = port_checks(function)
    for check in checks.values():
        assert check.verdict == FAIL and check.hint is not None, check.message
        assert check.hint["port_side"] == said
        assert "\n  in your port: " + said in check.message


def test_a_default_value_reads_from_the_port_side_too():
    """No phrase of its own: `your code computes as if <the hint's phrase>`."""
    from harness.diagnosis.base import Site, Variant
    from harness.diagnosis.catalogue import TRANSFORMS

    slope = TRANSFORMS["leaky_relu.negative_slope"]
    variant = Variant(slope, Site("activation", "leaky_relu", layer="hidden", field="activation"),
                      "0.01 (torch: torch.nn.functional.leaky_relu)", lambda edit: None)
    assert variant.port_text() == ("your code computes as if leaky_relu's negative slope is 0.01 "
                                   "(torch: torch.nn.functional.leaky_relu)")


def test_the_case_page_shows_the_port_side_beside_the_hint(tmp_path):
    from harness.entry.session import run_session

    path = tmp_path / "three_dense.yaml"
    path.write_text(yaml.safe_dump({**THREE_DENSE, "ports": [
        {"name": "mine", "python": f"{PORTS / 'wrong_ports.py'}:dense_untransposed"}]}))
    run_session([path], frameworks=["numpy"], out_dir=tmp_path / "site", command="test")
    page = (tmp_path / "site" / "cases" / "three_dense.html").read_text()
    assert "<strong>In your port:</strong> in layer second, your kernel is read transposed" in page


def test_a_recurrent_gradient_difference_has_a_per_gate_section(tmp_path):
    """torch with the forget bias bound doubled in one layer (tests/layout_faults.py's binding
    fault): its gradients check fails, and the case page has the per-gate table, one row per
    recurrent parameter, one column per gate."""
    from harness.backends import get_backend
    from harness.entry.session import run_session
    from tests.adapter_faults import scale_block
    from tests.layout_faults import bound_wrong
    from tests.test_diagnosis import base
    from tests.test_search import STACKED

    backend = get_backend("torch")
    if backend.unavailable_reason():
        pytest.skip(backend.unavailable_reason())
    path = tmp_path / "fault.yaml"
    path.write_text(yaml.safe_dump({**base(STACKED, shape=[4, 3], targets=[2]), "checks": ["forward", "gradients"]}))
    with bound_wrong(backend, "upper", ("bias",), scale_block(4, 1, 2.0), scale_block(4, 1, 0.5)):
        run_session([path], frameworks=["numpy", "torch"], out_dir=tmp_path / "site", command="test")
    page = (tmp_path / "site" / "cases" / "fault.html").read_text()
    section = page[page.index('<section id="gates">'):]
    section = section[:section.index("</section>")]
    assert "torch: gradients" in section
    assert "<th>i</th><th>f</th><th>c</th><th>o</th>" in section
    assert "<code>upper/bias</code>" in section and "(out)" in section
