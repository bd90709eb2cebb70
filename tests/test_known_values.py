"""`expect` states its precision as a published table does: `atol`, `rtol` or both (issue 27).

The stated value is the article's printed prediction of cases/seed000_dense_tanh.yaml
(0.9301591 for input [0.3, 0.1]): an independent source, not the harness's own output.
"""

from __future__ import annotations

import pytest

from harness.weights import cases_from_data
from harness.common.errors import CaseError
from harness.checks.runner import FAIL, PASS, CaseRunner

ARTICLE_PREDICTION = 0.9301591


def seed_case(**expect):
    data = {
        "name": "article", "dtype": "float64",
        "inputs": {"x": {"data": {"values": [[0.3, 0.1]]}}},
        "targets": {"t": {"data": {"values": [[1.0]]}}},
        "model": {"sequential": [{"type": "Dense", "name": "hidden", "units": 5, "activation": "tanh"},
                                 {"type": "Dense", "name": "output", "units": 1, "activation": "tanh"}]},
        "weights": {"parameters": {
            "hidden/kernel": {"values": [[-1.08239257, 0.32482854, 0.95010394, 0.00501535, -0.47380614],
                                         [-0.56682748, 1.15749049, 0.91618514, 0.37518814, -0.67639047]]},
            "hidden/bias": {"values": [-0.18290569, 0.21453567, 0.01353107, 0.27740911, 0.09604219]},
            "output/kernel": {"values": [[-0.8775745], [1.09351909], [0.21981503], [1.31380796], [-0.10301871]]},
            "output/bias": {"values": [0.27410847]}}},
        "loss": {"type": "hinge", "reduction": "mean"},
        "checks": ["known_values"],
        "expect": {"source": "the article's printed prediction", **expect},
    }
    (case,) = cases_from_data(data)
    return case


def verdict(**expect) -> str:
    return CaseRunner(seed_case(**expect)).check("numpy", "known_values").verdict


def test_rtol_alone_is_accepted_and_judged_relative():
    # The article prints 7 digits: the float64 prediction is within 1e-7 relative of it.
    assert verdict(outputs={"output": [[ARTICLE_PREDICTION]]}, rtol=1e-7) == PASS
    # 1e-5 relative off the printed value: outside rtol 1e-6, inside rtol 1e-4.
    shifted = ARTICLE_PREDICTION * (1 + 1e-5)
    assert verdict(outputs={"output": [[shifted]]}, rtol=1e-6) == FAIL
    assert verdict(outputs={"output": [[shifted]]}, rtol=1e-4) == PASS


def test_atol_and_rtol_add_up_as_in_numpy_isclose():
    shifted = ARTICLE_PREDICTION + 2e-5
    assert verdict(outputs={"output": [[shifted]]}, atol=1e-5, rtol=1e-6) == FAIL  # 1e-5 + 0.93e-6 < 2e-5
    assert verdict(outputs={"output": [[shifted]]}, atol=1e-5, rtol=2e-5) == PASS  # 1e-5 + 1.86e-5 > 2e-5


def test_the_tolerance_reported_is_the_stated_one():
    result = CaseRunner(seed_case(outputs={"output": [[ARTICLE_PREDICTION]]}, atol=1e-6, rtol=1e-5)) \
        .check("numpy", "known_values")
    (tensor,) = result.tensors
    assert (tensor.atol, tensor.rtol) == (1e-6, 1e-5)


def test_stated_values_without_any_precision_are_an_error():
    with pytest.raises(CaseError) as info:
        seed_case(outputs={"output": [[ARTICLE_PREDICTION]]})
    assert "state the precision of the known values" in info.value.render()
