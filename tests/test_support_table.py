"""The support table is complete: every (kind, framework, column) is covered or says why not.

A kind's missing capability is declared on its own spec (`not_covered`, harness/reference/spec.py)
or, for built and reproducer, is the adapter's or template's own Unsupported reason. These tests
fail on a gap with neither, on a declared reason whose capability exists (stale), and on a
declaration that names no known framework or column. docs/support.md is kept current by
tests/test_coverage.py.
"""

from __future__ import annotations

import pytest

from harness.output import support as support_table
from harness.reference.activations import ACTIVATIONS
from harness.reference.layers import LAYERS
from harness.reference.losses import LOSSES
from harness.reference.optimizers import OPTIMIZERS
from harness.reference.spec import COLUMNS, Spec
from tests.conftest import FRAMEWORK_BACKENDS, backend_or_skip

SUPPORT_FRAMEWORKS = FRAMEWORK_BACKENDS


def declaring_classes() -> list[type[Spec]]:
    """Every spec class in the four registries and their bases, once."""
    seen: dict[type, None] = {}
    for registry in (LAYERS, ACTIVATIONS, LOSSES, OPTIMIZERS):
        for cls in registry.values():
            for klass in cls.__mro__:
                if isinstance(klass, type) and issubclass(klass, Spec):
                    seen.setdefault(klass, None)
    return list(seen)


def test_declared_reasons_name_a_known_framework_and_column():
    wrong = [f"{cls.__name__}: {key}" for cls in declaring_classes()
             for key in vars(cls).get("not_covered", {})
             if not (isinstance(key, tuple) and len(key) == 2 and key[0] in (*SUPPORT_FRAMEWORKS, "*")
                     and key[1] in COLUMNS)]
    assert wrong == [], f"not_covered keys are (framework or '*', one of {COLUMNS}): {wrong}"


def test_declared_reasons_are_sentences_not_placeholders():
    short = [f"{cls.__name__}{key}: {text!r}" for cls in declaring_classes()
             for key, text in vars(cls).get("not_covered", {}).items()
             if not isinstance(text, str) or len(text.split()) < 4]
    assert short == []


def test_a_reason_is_found_on_the_kind_and_falls_back_to_every_framework():
    class Base(Spec):
        not_covered = {("*", "reproducer"): "no template for any of these yet",
                       ("torch", "importable"): "torch has no such module"}

    class Kind(Base):
        not_covered = {("torch", "reproducer"): "torch's template refuses it here"}

    assert Kind.why_not_covered("torch", "reproducer") == "torch's template refuses it here"
    assert Kind.why_not_covered("keras", "reproducer") == "no template for any of these yet"
    assert Kind.why_not_covered("torch", "importable") == "torch has no such module"
    assert Kind.why_not_covered("chainer", "importable") is None


@pytest.fixture(scope="module")
def support():
    support_table.support_matrix()  # measured once per process, shared with test_coverage's page test
    return support_table


def framework_column(support, framework: str, column: str):
    """Skip a framework not installed here, and a column its registry cannot answer at all yet
    (imports without `produces=`); a single cell it cannot answer is left out of the checks and
    shown as `?` with the reason in the table."""
    backend_or_skip(framework)
    column_cells = [cell for entry, f, c, cell in support.cells() if (f, c) == (framework, column)]
    if column_cells and all(cell.unknown for cell in column_cells):
        pytest.skip(column_cells[0].unknown)


@pytest.mark.parametrize("column", COLUMNS)
@pytest.mark.parametrize("framework", SUPPORT_FRAMEWORKS)
def test_every_gap_has_a_reason(support, framework, column):
    framework_column(support, framework, column)
    gaps = [str(gap) for gap in support.gaps() if (gap.framework, gap.column) == (framework, column)]
    assert gaps == [], ("declare why in the spec's not_covered (harness/reference/spec.py), or add the "
                        "capability:\n" + "\n".join(gaps))


@pytest.mark.parametrize("column", COLUMNS)
@pytest.mark.parametrize("framework", SUPPORT_FRAMEWORKS)
def test_no_declared_reason_is_stale(support, framework, column):
    framework_column(support, framework, column)
    stale = [str(gap) for gap in support.stale_reasons() if (gap.framework, gap.column) == (framework, column)]
    assert stale == [], "remove these reasons from the specs' not_covered:\n" + "\n".join(stale)


def test_the_table_measures_what_it_claims(support):
    """Cells the adapters are known to give (not a copy of the table: each is a fact checked
    elsewhere): Dense builds natively everywhere, its weights round-trip through every
    framework's file, its reproducer template renders, and BatchNormalization's defaults are read."""
    rows, missing = support.support_matrix()
    dense, batch_norm = rows[("layer", "Dense")], rows[("layer", "BatchNormalization")]
    for framework in SUPPORT_FRAMEWORKS:
        if framework in missing:
            continue
        assert "native" in dense.cells[framework]["built"].kinds
        assert dense.cells[framework]["exportable"].covered
        assert dense.cells[framework]["reproducer"].covered
        assert batch_norm.cells[framework]["defaults"].covered
        assert "exportable" not in rows[("layer", "ReLU")].cells[framework], "ReLU has no weights to export"
        assert "exportable" not in rows[("loss", "hinge")].cells[framework]


def test_a_gap_without_reason_and_a_stale_reason_are_found(monkeypatch):
    """The checks themselves, on a made-up row (no framework needed)."""
    support = support_table
    class Kind(Spec):
        not_covered = {("torch", "importable"): "torch has no such module",
                       ("keras", "reproducer"): "no reproducer template written for it yet"}

    row = support.Row("layer", "Kind", Kind)
    row.cell("torch", "importable").add("no")  # declared
    row.cell("keras", "importable").add("no")  # a gap
    row.cell("keras", "reproducer").add("yes")  # covered, yet declared: stale
    row.cell("chainer", "built").add("unsupported", "the adapter's own reason")  # explained by the adapter
    row.cell("chainer", "exportable").add("yes")
    row.cell("chainer", "exportable").fail("read back different: kernel")  # a failure needs a declared reason
    monkeypatch.setattr(support, "support_matrix", lambda: ({("layer", "Kind"): row}, []))

    assert {(gap.framework, gap.column) for gap in support.gaps()} == {("keras", "importable"),
                                                                      ("chainer", "exportable")}
    assert {(gap.framework, gap.column) for gap in support.stale_reasons()} == {("keras", "reproducer")}
    table = support.column_table("importable", [row], ["keras", "chainer", "torch"])
    assert "| layer | `Kind` | no **(no reason declared)** | - | no [1] |" in table
    assert "1. torch has no such module" in table


def test_importable_reads_what_the_translations_produce():
    """A layer row by its kind, an activation row by `Activation:<name>`; translations that produce
    a bare `Activation` cannot tell the rows apart, which the table shows as not read."""
    from harness.backends.framework_registry import FrameworkRegistry

    def row(section, name):
        entry = support_table.Row(section, name, Spec)
        return entry, entry.cell("torch", "importable")

    registry = FrameworkRegistry("torch")
    registry.imports.register("Linear", produces=("Dense",))(lambda *args: None)
    registry.imports.register("ReLU", produces=("Activation:relu",))(lambda *args: None)
    for section, name, label in (("layer", "Dense", "yes"), ("layer", "Conv2D", "no"),
                                 ("activation", "relu", "yes"), ("activation", "tanh", "no")):
        entry, cell = row(section, name)
        support_table.importable(entry, "torch", registry)
        assert cell.label == label, (name, cell.label)
    registry.imports.register("Tanh", produces=("Activation",))(lambda *args: None)
    entry, cell = row("activation", "tanh")
    support_table.importable(entry, "torch", registry)
    assert cell.unknown and not cell.kinds
    with pytest.raises(TypeError, match="produces"):  # a translation must say what it yields
        FrameworkRegistry("torch").imports.register("Linear")
