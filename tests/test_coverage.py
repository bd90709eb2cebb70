"""Nothing registered goes untested or undocumented.

Every layer type, activation and loss has examples (which drive the finite-difference tests,
the round trips and the single-layer equivalence tests), every optimizer has examples (which
drive each adapter's optimizer against the reference), and docs/support.md's table is what
running the adapters gives today.
"""

from __future__ import annotations

from pathlib import Path

from harness.reference.activations import ACTIVATIONS
from harness.case.examples import LAYER_EXAMPLES, LOSS_EXAMPLES, OPTIMIZER_EXAMPLES
from harness.reference.layers import LAYERS
from harness.reference.losses import LOSSES
from harness.reference.optimizers import OPTIMIZERS
from tests.conftest import FRAMEWORK_BACKENDS, backend_or_skip

ROOT = Path(__file__).resolve().parent.parent
SUPPORT_PAGE = ROOT / "docs" / "support.md"
CASES = ROOT / "cases"
GRAPH_CONSTRUCTS = {"Reuse"}  # not a layer: tested in test_graph.py


def test_every_layer_type_has_examples():
    covered = {example.type for example in LAYER_EXAMPLES}
    assert set(LAYERS) - GRAPH_CONSTRUCTS - covered == set()


def test_every_layer_type_is_in_a_shipped_case():
    """Examples test a layer alone; a case file shows it in a network, in the report."""
    from harness.weights import load_cases

    used = {node.spec.type for case in load_cases(CASES) for node in case.graph.nodes}
    reused = any(node.name != node.layer for case in load_cases(CASES) for node in case.graph.nodes)
    assert set(LAYERS) - GRAPH_CONSTRUCTS - used == set()
    assert reused, "no shipped case applies one layer object at two places"


def test_every_activation_has_examples():
    covered = {example.config["activation"]["name"] for example in LAYER_EXAMPLES
               if example.type == "Activation"}
    assert set(ACTIVATIONS) - covered == set()


def test_every_loss_has_examples():
    assert set(LOSSES) - {example.config["type"] for example in LOSS_EXAMPLES} == set()


def test_every_optimizer_has_examples():
    assert set(OPTIMIZERS) - {example["type"] for example in OPTIMIZER_EXAMPLES} == set()


def test_docs_support_table_is_current():
    from harness.output.support import render_markdown, table_in

    for framework in FRAMEWORK_BACKENDS:
        backend_or_skip(framework)
    assert table_in(SUPPORT_PAGE) == render_markdown().strip(), \
        "docs/support.md is stale: run `python -m harness support --write docs/support.md`"
