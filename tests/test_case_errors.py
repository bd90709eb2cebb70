"""Bad case files get one clear error: file, line, field path, what was expected, what was found."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from harness.weights import load_cases
from harness.case.schema import json_schema
from harness.entry.cli import SCHEMA_PATH
from harness.common.errors import CaseError

GOOD = """\
name: tiny
inputs:
  x: {shape: [2], data: {uniform: {low: 0.0, high: 1.0}}}
targets:
  t: {shape: [1], data: {uniform: {low: 0.0, high: 1.0}}}
samples: 4
model:
  sequential:
    - {type: Dense, units: 1}
loss: {type: mean_squared_error, reduction: mean}
"""


def load_error(tmp_path: Path, text: str) -> CaseError:
    path = tmp_path / "case.yaml"
    path.write_text(text)
    with pytest.raises(CaseError) as info:
        load_cases([path])
    return info.value


def test_the_good_case_loads(tmp_path):
    path = tmp_path / "case.yaml"
    path.write_text(GOOD)
    (case,) = load_cases([path])
    assert case.graph.parameter_shapes == {"dense/kernel": (2, 1), "dense/bias": (1,)}


def test_unknown_layer_type_lists_the_known_ones(tmp_path):
    error = load_error(tmp_path, GOOD.replace("type: Dense", "type: Dens"))
    text = error.render()
    assert "case.yaml:9: model.sequential[0]" in text
    assert "unknown type 'Dens'" in text
    for known in ("'Dense'", "'Flatten'", "'Concatenate'"):
        assert known in text


def test_misspelt_field_names_its_line_and_path(tmp_path):
    text = load_error(tmp_path, GOOD.replace("units: 1", "unit: 1")).render()
    assert "case.yaml:9: model.sequential[0].unit: unknown field" in text
    assert "model.sequential[0].units: required field is missing" in text


def test_quoted_number_is_an_error_not_a_string_coerced(tmp_path):
    text = load_error(tmp_path, GOOD.replace("high: 1.0}}}\nsamples", "high: '1.0'}}}\nsamples")).render()
    assert "targets.t.data.uniform.high" in text
    assert "found: '1.0'" in text
    assert "without quotes" in text


def test_yaml_syntax_error_has_the_line(tmp_path):
    text = load_error(tmp_path, GOOD + "loss: {type: hinge\n").render()
    assert "case.yaml:" in text and "invalid YAML" in text


def test_duplicate_keys_are_rejected(tmp_path):
    text = load_error(tmp_path, GOOD + "samples: 5\n").render()
    assert "invalid YAML" in text and "duplicate" in text


def test_missing_explicit_slope_is_required(tmp_path):
    bad = GOOD.replace("{type: Dense, units: 1}", "{type: Dense, units: 1, activation: leaky_relu}")
    text = load_error(tmp_path, bad).render()
    assert "model.sequential[0].activation.negative_slope: required field is missing" in text


def test_unknown_input_reference_in_graph(tmp_path):
    bad = GOOD.replace("""  sequential:
    - {type: Dense, units: 1}""", """  nodes:
    - {type: Dense, units: 1, inputs: [y]}""")
    error = load_error(tmp_path, bad)
    assert "unknown input 'y'" in error.render()
    assert "known so far: x" in error.render()


def test_concatenate_axis_beyond_the_rank_is_a_case_error(tmp_path):
    bad = GOOD.replace("""  sequential:
    - {type: Dense, units: 1}""", """  nodes:
    - {name: both, type: Concatenate, axis: 3, inputs: [x, x]}
    - {type: Dense, units: 1, inputs: [both]}""")
    text = load_error(tmp_path, bad).render()
    assert "case.yaml:9: model.nodes[0]: Concatenate" in text
    assert "axis 3 is out of range for inputs of rank 2" in text


@pytest.mark.parametrize("layer, line", [("{type: Dense, units: 1, activation: {name: softmax, axis: 2}}", 9),
                                         ("{type: SimpleRNN, units: 1, activation: {name: softmax, axis: 2}}", 9)])
def test_softmax_axis_beyond_the_rank_is_a_case_error(tmp_path, layer, line):
    """Caught when the file loads, with the field, instead of an AxisError in every framework.
    A recurrent cell's activation acts on (batch, units), whatever the layer's output."""
    bad = GOOD.replace("x: {shape: [2]", "x: {shape: [3, 2]").replace("{type: Dense, units: 1}", layer)
    if "SimpleRNN" not in layer:
        bad = bad.replace("x: {shape: [3, 2]", "x: {shape: [2]")
    text = load_error(tmp_path, bad).render()
    assert f"case.yaml:{line}: model.sequential[0].activation:" in text
    assert "softmax axis 2 is out of range for a tensor of rank 2" in text


def test_weight_for_unknown_parameter(tmp_path):
    bad = GOOD + "weights:\n  parameters:\n    dense/kernal: zeros\n"
    text = load_error(tmp_path, bad).render()
    assert "no parameter named 'dense/kernal'" in text
    assert "dense/kernel" in text and ":13:" in text


def test_explicit_values_of_wrong_shape(tmp_path):
    bad = GOOD + "weights:\n  parameters:\n    dense/kernel: {values: [1.0, 2.0]}\n"
    text = load_error(tmp_path, bad).render()
    assert "values have shape (2,), the parameter has shape (2, 1)" in text


def test_target_shape_mismatch(tmp_path):
    text = load_error(tmp_path, GOOD.replace("t: {shape: [1]", "t: {shape: [3]")).render()
    assert "target 't' has shape [3], output 'dense' has [1]" in text


def test_bad_expression_reports_the_evaluator_message(tmp_path):
    bad = GOOD.replace("t: {shape: [1], data: {uniform: {low: 0.0, high: 1.0}}}", 't: {data: {expression: "exp(z)"}}')
    text = load_error(tmp_path, bad).render()
    assert "targets.t.data" in text and "exp(z)" in text and "z" in text


def test_several_errors_in_a_variant_file_are_reported_together(tmp_path):
    bad = GOOD + "variants:\n  - {name: a, samples: 0}\n  - {name: b, dtype: float16}\n"
    text = load_error(tmp_path, bad).render()
    assert "samples" in text and "dtype" in text


def test_missing_file_is_a_case_error(tmp_path):
    with pytest.raises(CaseError, match="cannot read the case file"):
        load_cases([tmp_path / "nope.yaml"])


def test_published_schema_is_up_to_date():
    """The committed JSON Schema is what `python -m harness schema` writes."""
    assert json.loads(SCHEMA_PATH.read_text()) == json_schema(), \
        "harness/case/case.schema.json is stale: run `python -m harness schema`"


@pytest.fixture(scope="module")
def published_schema():
    """A validator of the committed schema, checked against its metaschema once (what
    jsonschema.validate repeats on every call: about half a second here)."""
    schema = json.loads(SCHEMA_PATH.read_text())
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    return validator(schema)


@pytest.mark.parametrize("path", sorted(Path(__file__).parent.parent.joinpath("cases").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_every_shipped_case_validates_against_the_published_schema(path, published_schema):
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(path.read_text())
    published_schema.validate(data)


def test_published_schema_rejects_an_unknown_layer(published_schema):
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(GOOD.replace("type: Dense", "type: Dens"))
    with pytest.raises(jsonschema.ValidationError):
        published_schema.validate(data)


def test_an_error_is_placed_in_the_variant_that_holds_the_deepest_part_of_its_path():
    """A variant's fields are looked up in the variant first, then in the file's shared part:
    the line given is the one that holds the most of the error's path."""
    from ruamel.yaml import YAML

    from harness.case.loader import locate

    shared = YAML().load("loss:\n  type: mean_squared_error\nmodel:\n  sequential: []\n")
    variant = YAML().load("name: a\nmodel:\n  sequential:\n    - {type: Dense, units: -1}\n")
    field, line = locate((shared, variant), ("model", "sequential", 0, "Dense", "units"))
    assert (field, line) == ("model.sequential[0].units", 4)


def test_a_mistake_in_the_shared_part_is_reported_once_not_per_variant(tmp_path):
    variants = GOOD.replace("type: Dense", "type: Dens") + "variants:\n  - name: a\n  - name: b\n"
    text = load_error(tmp_path, variants).render()
    assert text.count("unknown type 'Dens'") == 1


def test_known_types_are_listed_alphabetically(tmp_path):
    text = load_error(tmp_path, GOOD.replace("type: Dense", "type: Dens")).render()
    known = text.split("known: ", 1)[1].splitlines()[0].split(", ")
    assert known == sorted(known) and "'Dense'" in known


def test_an_error_outside_any_file_names_only_its_field():
    assert CaseError("unknown framework 'foo'", field="--frameworks").render() == \
        "--frameworks: unknown framework 'foo'"


def test_in_memory_data_gets_the_lines_a_block_style_dump_would_have():
    # cases_from_data builds ruamel's tree directly instead of dumping and parsing YAML (30 ms a
    # case); the positions it gives are those of the dumped text, so errors read the same.
    from io import StringIO

    from ruamel.yaml import YAML

    from harness.case.loader import commented, locate

    data = {"name": "n", "inputs": {"x": {"shape": [3, 2], "data": {"uniform": {"low": 0, "high": 1}}}},
            "model": {"sequential": [{"type": "Dense", "units": 2}, {"type": "Dense", "units": 1,
                                                                      "activation": {"name": "tanh"}}]},
            "variants": [{"name": "a"}, {"name": "b", "samples": 3}]}
    stream = StringIO()
    YAML(typ="rt").dump(data, stream)
    parsed = YAML(typ="rt").load(stream.getvalue())
    built = commented(data)
    for path in [("inputs", "x", "shape"), ("inputs", "x", "data", "uniform", "high"),
                 ("model", "sequential", 0, "units"), ("model", "sequential", 1, "activation", "name"),
                 ("variants", 1, "samples"), ("variants", 0, "name"), ("name",)]:
        assert locate((built,), path) == locate((parsed,), path), path


def test_a_mistake_in_in_memory_data_names_its_field():
    from harness.weights import cases_from_data

    data = {"name": "n", "samples": 2, "inputs": {"x": {"shape": [2], "data": {"uniform": {"low": 0, "high": 1}}}},
            "targets": {"y": {"shape": [1], "data": {"uniform": {"low": 0, "high": 1}}}},
            "model": {"sequential": [{"type": "Dense", "unitz": 1}]}, "weights": {"seed": 0},
            "loss": {"type": "mean_squared_error", "reduction": "mean"}}
    with pytest.raises(CaseError) as raised:
        cases_from_data(data)
    assert "model.sequential[0].unitz" in raised.value.render()


def test_a_forward_only_case_needs_no_loss_nor_targets(tmp_path):
    """Issue 27: a loss and targets were required even for a forward-only case, with an error
    ("loss: required field is missing") that had no line and no hint. Left out, the default
    checks are the ones that need no loss."""
    path = tmp_path / "case.yaml"
    path.write_text(GOOD.replace("loss: {type: mean_squared_error, reduction: mean}\n", "")
                        .replace("targets:\n  t: {shape: [1], data: {uniform: {low: 0.0, high: 1.0}}}\n", ""))
    (case,) = load_cases([path])
    assert case.losses == [] and case.spec.checks == ["forward", "intermediates"]


def test_a_training_case_without_loss_names_what_is_missing(tmp_path):
    no_loss = GOOD.replace("loss: {type: mean_squared_error, reduction: mean}\n", "")
    text = load_error(tmp_path, no_loss + "checks: [forward, training]\noptimizer: {type: sgd, learning_rate: 0.1, momentum: 0.0}\n"
                                          "training: {steps: 1, batch_size: 4}\n").render()
    assert "a training case needs a `loss`" in text


def test_a_missing_field_points_at_the_mapping_it_belongs_in(tmp_path):
    """A missing field has no line of its own: the line of its variant (or the case's first)."""
    no_model = GOOD.replace("model:\n  sequential:\n    - {type: Dense, units: 1}\n", "")
    text = load_error(tmp_path, no_model + "variants:\n  - name: first\n    samples: 2\n").render()
    assert "case.yaml:9: model: required field is missing" in text  # the variant's `- name:` line
    text = load_error(tmp_path, GOOD.replace("reduction: mean", "from_logits: false")).render()
    assert "loss.reduction: required field is missing" in text and "hint: write `reduction: mean`" in text


def test_a_loss_without_any_target_hints_at_declaring_one(tmp_path):
    no_targets = GOOD.replace("targets:\n  t: {shape: [1], data: {uniform: {low: 0.0, high: 1.0}}}\n", "")
    text = load_error(tmp_path, no_targets).render()
    assert "case.yaml:8: loss.target: name the target this loss compares with" in text
    assert "hint: declare the target under `targets:`" in text
