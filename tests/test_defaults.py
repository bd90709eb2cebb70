"""The defaults audit: `framework_default` in case files, the probes that read meanings, the
adapters' readers, and the table.

The probe classifiers are tested on synthetic frameworks written here in a few lines of NumPy
(each formula as its paper or the framework's documentation states it), so they are checked
against something other than themselves. The readers are tested against the frameworks'
documented defaults, and resolution against a run with the value written out.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest

from harness.reference.activations import ACTIVATIONS
from harness.weights import cases_from_data, load_cases
from harness.defaults import CONCEPTS, FrameworkDefault, probes
from harness.reference.defaults_catalogue import CONCEPTS_BY_KEY
from harness.defaults.resolve import resolve_for_reference, spec_tag
from harness.common.errors import CaseError
from harness.reference.layers import LAYERS
from harness.reference.losses import LOSSES
from harness.reference.optimizers import OPTIMIZERS
from harness.backends.numpy_reference import run_reference
from tests.conftest import FRAMEWORK_BACKENDS, backend_or_skip

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS_PAGE = ROOT / "docs" / "defaults.md"
CASES = ROOT / "cases"


def leaky_case(negative_slope, *, layer: bool = False) -> dict:
    activation = {"name": "leaky_relu", "negative_slope": negative_slope}
    model = ([{"type": "Dense", "name": "hidden", "units": 3},
              {"type": "LeakyReLU", "name": "leaky", "negative_slope": negative_slope}] if layer
             else [{"type": "Dense", "name": "hidden", "units": 3, "activation": activation}])
    return {"name": "leaky", "dtype": "float64", "samples": 6,
            "inputs": {"x": {"shape": [4], "data": {"normal": {}}}},
            "targets": {"t": {"shape": [3], "data": {"normal": {}}}},
            "model": {"sequential": model},
            "loss": {"type": "mean_squared_error", "reduction": "sum"}}


ASK = {"framework_default": {"reference": 0.25, "reason": "a slope float32 holds exactly"}}


# --- case files ---------------------------------------------------------------------------------

def test_framework_default_loads_and_the_reference_uses_the_stated_value():
    (asked,) = cases_from_data(leaky_case(ASK))
    (stated,) = cases_from_data(leaky_case(0.25))
    activation = asked.graph.layers["hidden"].activation
    assert isinstance(activation.negative_slope, FrameworkDefault)
    assert activation.negative_slope.reference == 0.25
    result, expected = run_reference(asked), run_reference(stated)
    np.testing.assert_array_equal(result.outputs["hidden"], expected.outputs["hidden"])
    np.testing.assert_array_equal(result.input_gradients["x"], expected.input_gradients["x"])
    (recorded,) = result.implementations["hidden"].defaults
    assert recorded["field"] == "activation.negative_slope" and recorded["value"] == 0.25
    assert recorded["source"] == "case: a slope float32 holds exactly"


@pytest.mark.parametrize("bad, expected", [
    ("negative_slope: abc", ["activation.negative_slope: Input should be a valid number",
                             "{framework_default: {reference:"]),
    ("negative_slope: {framework_default: {reference: 0.2}}",
     ["activation.negative_slope.framework_default.reason: required field is missing"]),
    ("negative_slope: {framework_default: {reference: abc, reason: why}}",
     ["activation.negative_slope.framework_default.reference: Input should be a valid number"]),
    ("negative_slope: {framework_default: 0.2}", ["activation.negative_slope.framework_default:"]),
])
def test_malformed_framework_default_names_the_field(tmp_path, bad, expected):
    path = tmp_path / "case.yaml"
    path.write_text(f"""\
name: tiny
samples: 4
inputs: {{x: {{shape: [2], data: {{normal: {{}}}}}}}}
targets: {{t: {{shape: [1], data: {{normal: {{}}}}}}}}
model:
  sequential:
    - type: Dense
      units: 1
      activation:
        name: leaky_relu
        {bad}
loss: {{type: mean_squared_error, reduction: mean}}
""")
    with pytest.raises(CaseError) as info:
        load_cases([path])
    text = info.value.render()
    assert "case.yaml:11: model.sequential[0]." in text
    for part in expected:
        assert part in text


def test_summary_says_framework_default():
    (case,) = cases_from_data(leaky_case(ASK, layer=True))
    assert case.graph.layers["leaky"].describe() == "negative_slope=framework default (reference 0.25)"


def defaultable_fields() -> list[tuple[str, str]]:
    """(spec tag, field) of every field a case may leave to framework_default."""
    found = []
    for registry in (LAYERS, ACTIVATIONS, LOSSES, OPTIMIZERS):
        for tag, cls in registry.items():
            for name, info in cls.model_fields.items():
                if "FrameworkDefault" in str(info.annotation):
                    found.append((tag, name))
    return found


def test_defaultable_fields_are_the_ones_frameworks_disagree_on():
    assert set(defaultable_fields()) == {("LeakyReLU", "negative_slope"), ("leaky_relu", "negative_slope"),
                                         ("hard_sigmoid", "slope"), ("gelu", "approximate"),
                                         ("softmax", "axis"), ("BatchNormalization", "epsilon"),
                                         ("BatchNormalization", "momentum"),
                                         ("BatchNormalization", "moving_variance"),
                                         ("LayerNormalization", "epsilon"),
                                         *((kind, "learning_rate") for kind in ("sgd", "adam", "rmsprop", "adagrad")),
                                         ("sgd", "momentum"), ("adam", "beta_1"), ("adam", "beta_2"),
                                         ("adam", "epsilon"), ("adam", "epsilon_placement"),
                                         ("rmsprop", "rho"), ("rmsprop", "epsilon"),
                                         ("rmsprop", "epsilon_placement"), ("rmsprop", "momentum"),
                                         ("adagrad", "initial_accumulator_value"), ("adagrad", "epsilon"),
                                         ("adagrad", "epsilon_placement")}


@pytest.mark.parametrize("tag, field", defaultable_fields())
def test_every_defaultable_field_is_audited(tag, field):
    assert f"{tag}.{field}" in CONCEPTS_BY_KEY, f"add {tag}.{field} to harness/reference/defaults_catalogue.py"


def test_spec_tag_reads_the_literal_field():
    (case,) = cases_from_data(leaky_case(0.2, layer=True))
    assert spec_tag(case.graph.layers["leaky"]) == "LeakyReLU"
    assert spec_tag(case.graph.layers["hidden"].activation) == "linear"
    assert spec_tag(case.losses[0]) == "mean_squared_error"
    assert resolve_for_reference(case.graph.layers["hidden"]) == (case.graph.layers["hidden"], [])


# --- probes, on synthetic frameworks ----------------------------------------------------------

def test_snap_and_show():
    assert probes.snap(float(np.float32(1 / 6))) == 1 / 6
    assert probes.snap(-float(np.float32(-0.2))) == 0.2  # Keras' float32 slope attribute
    assert probes.snap(1e-5) == 1e-5  # not rounded to 0
    assert [probes.show(v) for v in (0.3, 1e-7, 1 / 6, True, "tanh", {"name": "hard_sigmoid", "slope": 0.2})] == \
        ["0.3", "1e-07", "1/6", "True", "tanh", "hard_sigmoid(slope=0.2)"]


@pytest.mark.parametrize("slope", [1 / 6, 0.2])
def test_hard_sigmoid_formula(slope):
    values = np.clip(slope * np.array(probes.HARD_SIGMOID_POINTS) + 0.5, 0, 1).tolist()
    found, formula, _ = probes.hard_sigmoid_formula(values)
    assert found == slope and formula == f"clip({probes.show(slope)} x + 0.5, 0, 1)"
    assert probes.hard_sigmoid_formula(np.tanh(probes.HARD_SIGMOID_POINTS).tolist())[0] is None


def test_gelu_form_from_the_published_formulas():
    exact = 0.5 * (1 + math.erf(1 / math.sqrt(2)))  # x Phi(x) at 1 (Hendrycks & Gimpel 2016)
    tanh = 0.5 * (1 + math.tanh(math.sqrt(2 / math.pi) * (1 + 0.044715)))
    assert probes.gelu_form(exact)[0] == "none"
    assert probes.gelu_form(float(np.float32(exact)))[0] == "none"  # float32 constants, as TF
    assert probes.gelu_form(tanh)[0] == "tanh"
    assert probes.gelu_form(0.8)[0] is None


def numpy_softmax(axis):
    def softmax(x):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)
    return softmax


def test_softmax_axis():
    assert probes.softmax_default_axis(numpy_softmax(-1), 3)[:2] == (2, "the last axis")
    assert probes.softmax_default_axis(numpy_softmax(1), 3)[:2] == (1, "axis 1 whatever the rank")

    def by_rank(x):  # torch's documented dim=None rule: 0 for 0-, 1- and 3-D input, else 1
        return numpy_softmax(0 if x.ndim in (0, 1, 3) else 1)(x)

    axis, meaning, _ = probes.softmax_default_axis(by_rank, 3)
    assert axis == 0 and meaning == "an axis chosen from the rank: 1 for 2-D, 0 for 3-D, 1 for 4-D"


@pytest.mark.parametrize("kept, stated, meaning, ddof", [
    (0.99, 0.99, "share of the running statistic kept at each update", 0),  # Keras momentum
    (0.9, 0.1, "share of the batch statistic taken at each update", 1),     # torch momentum
])
def test_running_statistics(kept, stated, meaning, ddof):
    batch = probes.RUNNING_STATS_BATCH[:, 0]
    mean_after = kept * 0.0 + (1 - kept) * batch.mean()
    var_after = kept * 1.0 + (1 - kept) * batch.var(ddof=ddof)
    found, found_meaning, _ = probes.running_mean_convention(stated, mean_after)
    assert found == kept and found_meaning == meaning
    assert probes.running_variance_estimator(found, var_after)[0] == ("biased", "unbiased")[ddof]


@pytest.mark.parametrize("inside", [True, False])
def test_normalization_epsilon(inside):
    eps = 1e-3

    def normalize(x):
        centred = x - x.mean(axis=-1, keepdims=True)
        var = x.var(axis=-1, keepdims=True)
        return centred / (np.sqrt(var + eps) if inside else np.sqrt(var) + eps)

    y = float(normalize(probes.layer_norm_probe_input(eps))[0, 0])
    effective, meaning, _ = probes.layer_norm_epsilon(eps, y)
    assert meaning.startswith("inside" if inside else "outside")
    assert effective == (eps if inside else None)
    y = 1 / math.sqrt(eps) if inside else 1 / eps  # BN(1), mean 0, variance 0
    assert probes.batch_norm_epsilon(eps, y)[1].startswith("inside" if inside else "outside")


def numpy_lstm_step(act, rec, b):
    i = o = rec(b)  # with every weight 0 and h = c = 0 the forget gate multiplies 0
    c = i * act(b)
    return float(o * act(c))


def test_lstm_probe_recognises_each_candidate_and_only_it():
    outputs = [predicted for _, _, predicted in probes.lstm_candidates()]
    for a, b in itertools.combinations(outputs, 2):
        assert not np.allclose(a, b, rtol=1e-4, atol=0)
    hard = lambda x: np.clip(0.2 * x + 0.5, 0, 1)  # noqa: E731 (Keras 2's hard_sigmoid)
    h = tuple(numpy_lstm_step(np.tanh, hard, b) for b in probes.LSTM_PROBE_BIASES)
    act, rec, _ = probes.lstm_activations(h)
    assert act == {"name": "tanh"} and rec == {"name": "hard_sigmoid", "slope": 0.2}


def test_gru_probe_tells_reset_after_and_the_update_convention_apart():
    outputs = [predicted for _, predicted in probes.gru_candidates()]
    for a, b in itertools.combinations(outputs, 2):
        assert not np.allclose(a, b, rtol=1e-4, atol=0)

    def chainer_gru(h, w, b):  # reset-before, h' = z candidate + (1 - z) h (chainer/links/rnn/gru.py)
        z = r = 1 / (1 + math.exp(-(w * h + b)))
        candidate = math.tanh(w * (r * h) + b)
        return z * candidate + (1 - z) * h

    formula, _ = probes.gru_formula(tuple(chainer_gru(*point) for point in probes.GRU_PROBE_POINTS))
    assert formula == {"activation": {"name": "tanh"}, "recurrent_activation": {"name": "sigmoid"},
                       "reset_after": False, "update": "z takes the candidate"}


def adam_first_step(g, lr, beta_1, beta_2, eps, hat):
    """Kingma & Ba 2015, Algorithm 1 (hat=False) and the eps-hat variant of its section 2."""
    m, v = (1 - beta_1) * g, (1 - beta_2) * g * g
    if hat:
        return lr * math.sqrt(1 - beta_2) / (1 - beta_1) * m / (math.sqrt(v) + eps)
    return lr * (m / (1 - beta_1)) / (math.sqrt(v / (1 - beta_2)) + eps)


@pytest.mark.parametrize("hat", [True, False])
def test_adam_epsilon(hat):
    eps, beta_2 = 1e-7, 0.999
    small, one = (adam_first_step(g, 1e-3, 0.9, beta_2, eps, hat) for g in (eps, 1.0))
    placement, meaning, _ = probes.adam_epsilon(eps, beta_2, small, one, eps)
    assert placement == ("before_bias_correction" if hat else "after_bias_correction")
    assert meaning == probes.ADAM_MEANINGS[placement]


@pytest.mark.parametrize("inside", [True, False])
def test_root_epsilon(inside):
    lr, eps, g, a = 1e-3, 1e-7, math.sqrt(1e-7), 0.1 * 1e-7
    step = lr * g / (math.sqrt(a + eps) if inside else math.sqrt(a) + eps)
    placement, meaning, _ = probes.root_epsilon(step, learning_rate=lr, epsilon=eps, gradient=g, accumulated=a)
    assert placement == ("inside_sqrt" if inside else "outside_sqrt")
    assert meaning == probes.ROOT_MEANINGS["inside" if inside else "outside"]


def test_momentum_and_initial_accumulator():
    lr, m = 0.01, 0.9
    assert probes.momentum(lr, lr * (1 + m))[0] == m
    assert probes.momentum(lr, lr)[0] == 0.0
    assert probes.adagrad_initial_accumulator(lr, lr / math.sqrt(0.1 + 1))[0] == 0.1


# --- the adapters' readers, against the frameworks' documentation ----------------------------

# Values printed in each framework's API documentation (signature or formula), the independent
# source the readers are checked against: keras.io (LeakyReLU, BatchNormalization, activations),
# pytorch.org/docs (LeakyReLU, Hardsigmoid, BatchNorm1d, softmax), docs.chainer.org.
DOCUMENTED = {
    "keras": {"LeakyReLU.negative_slope": 0.3, "leaky_relu.negative_slope": 0.2, "hard_sigmoid.slope": 1 / 6,
              "gelu.approximate": "none", "BatchNormalization.momentum": 0.99,
              "BatchNormalization.epsilon": 1e-3, "BatchNormalization.moving_variance": "biased",
              "LayerNormalization.epsilon": 1e-3, "GRU.reset_after": True, "sgd.learning_rate": 0.01,
              "adam.epsilon": 1e-7, "adam.epsilon_placement": "before_bias_correction",
              "rmsprop.epsilon_placement": "inside_sqrt",
              "adagrad.initial_accumulator_value": 0.1},
    "torch": {"LeakyReLU.negative_slope": 0.01, "leaky_relu.negative_slope": 0.01, "hard_sigmoid.slope": 1 / 6,
              "gelu.approximate": "none", "BatchNormalization.momentum": 0.9,
              "BatchNormalization.epsilon": 1e-5, "BatchNormalization.moving_variance": "unbiased",
              "LayerNormalization.epsilon": 1e-5, "GRU.reset_after": True, "sgd.learning_rate": 0.001,
              "adam.epsilon": 1e-8, "adam.epsilon_placement": "after_bias_correction",
              "rmsprop.epsilon_placement": "outside_sqrt", "adagrad.initial_accumulator_value": 0.0},
    "chainer": {"LeakyReLU.negative_slope": 0.2, "leaky_relu.negative_slope": 0.2, "hard_sigmoid.slope": 0.2,
                "BatchNormalization.momentum": 0.9, "BatchNormalization.epsilon": 2e-5,
                "BatchNormalization.moving_variance": "unbiased", "LayerNormalization.epsilon": 1e-6,
                "GRU.reset_after": True, "sgd.learning_rate": 0.01, "adam.epsilon": 1e-8,
                "adam.epsilon_placement": "before_bias_correction",
                "rmsprop.epsilon_placement": "outside_sqrt", "adagrad.initial_accumulator_value": 0.0},
}


@pytest.fixture(scope="module")
def table():
    from harness.backends import get_backend
    from harness.defaults.table import FRAMEWORKS, defaults_table

    return defaults_table({name: get_backend(name) for name in FRAMEWORKS}).to_json()


def used_reading(table, key, framework):
    row = next(row for row in table["rows"] if row["key"] == key)
    return next(r for r in row["cells"][framework]["readings"] if r["used"])


@pytest.mark.parametrize("framework", FRAMEWORK_BACKENDS)
def test_every_concept_is_read_with_one_used_reading(framework, table):
    backend_or_skip(framework)
    for row in table["rows"]:
        cell = row["cells"][framework]
        assert cell["status"] == "read", f"{framework} {row['key']}: {cell['reason']}"
        assert sum(r["used"] for r in cell["readings"]) == 1, f"{framework} {row['key']}"
        for reading in cell["readings"]:
            assert reading["missing"] or reading["effective"] is not None or reading["meaning"], \
                f"{framework} {row['key']}: nothing found"


@pytest.mark.parametrize("framework", FRAMEWORK_BACKENDS)
def test_readers_find_the_documented_defaults(framework, table):
    backend_or_skip(framework)
    for key, documented in DOCUMENTED[framework].items():
        assert used_reading(table, key, framework)["effective"] == documented, f"{framework} {key}"


def adam_defaults_case(optimizer: dict | None = None):
    """defaults_optimizers.yaml's `adam` variant, with `optimizer` written out if given."""
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(CASES / "defaults_optimizers.yaml")
    if optimizer is not None:
        (variant,) = [variant for variant in data["variants"] if variant["name"] == "adam"]
        variant["optimizer"] = {"type": "adam", **optimizer}
    (case,) = [case for case in cases_from_data(data) if case.id.endswith(".adam")]
    return case


def test_torch_runs_its_own_default_adam_and_differs_from_keras_as_documented():
    """Adam() in torch: eps 1e-8 added after bias correction (pytorch.org/docs Adam, the
    algorithm box: theta - gamma m_hat / (sqrt(v_hat) + eps)); the case's reference is Keras'
    1e-7 before bias correction, and the case documents by how much torch's steps differ."""
    backend = backend_or_skip("torch")
    case = adam_defaults_case()
    trace = backend.run(case).training
    assert trace.status == "ran", trace.reason
    assert {item["key"]: item["value"] for item in trace.optimizer.defaults} == {
        "adam.learning_rate": 0.001, "adam.beta_1": 0.9, "adam.beta_2": 0.999, "adam.epsilon": 1e-8,
        "adam.epsilon_placement": "after_bias_correction"}
    assert "eps=1e-08)" in trace.optimizer.detail and "set before step" not in trace.optimizer.detail

    # Against the reference with torch's documented Adam written out: the same to float32 rounding.
    torch_documented = adam_defaults_case({"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
                                           "epsilon": 1e-8, "epsilon_placement": "after_bias_correction"})
    as_documented = run_reference(torch_documented).training
    for step, parameters in enumerate(trace.parameters):
        for name, value in parameters.items():
            np.testing.assert_allclose(value, as_documented.parameters[step][name], rtol=0, atol=1e-6,
                                       err_msg=f"{name} after step {step + 1}")

    # Against the case's reference (Keras' 1e-7 before bias correction): torch's steps are 5.2
    # times Keras' at the first step and 2.1 times at the twelfth, as the case's reason says.
    keras_form = run_reference(case).training

    def moved(parameters, before):
        return sum(float(np.abs(parameters[name] - before[name]).sum()) for name in parameters)

    ratios = [moved(trace.parameters[step], trace.parameters[step - 1] if step else case.weights)
              / moved(keras_form.parameters[step], keras_form.parameters[step - 1] if step else case.weights)
              for step in (0, len(trace.parameters) - 1)]
    np.testing.assert_allclose(ratios, [5.2, 2.1], rtol=0.05)
    documented = case.expected_difference("torch", "training")
    assert "5.2 times" in documented.reason and "2.1 times" in documented.reason


def test_table_marks_disagreements(table):
    for framework in FRAMEWORK_BACKENDS:
        backend_or_skip(framework)
    verdicts = {row["key"]: row["verdict"] for row in table["rows"]}
    assert verdicts["LeakyReLU.negative_slope"] == "differs in value"
    assert verdicts["BatchNormalization.momentum"] == "differs in value and meaning"
    assert verdicts["adam.epsilon"] == "differs in value and meaning"
    assert verdicts["elu.alpha"] == "agrees"
    assert verdicts["adam.beta_1"] == "agrees"
    assert len(table["rows"]) == len(CONCEPTS)


@pytest.mark.parametrize("reason, label", [
    ("torch is not installed (ModuleNotFoundError: No module named 'torch')", "not installed"),
    ("torch failed to import (SyntaxError: in the adapter)", "unavailable"),  # a bug is not absence
])
def test_missing_framework_is_a_column_saying_so(reason, label):
    import harness.defaults.table as table_module
    from harness.backends import UnavailableBackend

    data = table_module.defaults_table({"torch": UnavailableBackend("torch", reason)}).to_json()
    assert data["versions"] == {"torch": label}
    assert all(row["cells"]["torch"]["status"] == label for row in data["rows"])
    assert f"| {label} |" in table_module.render_markdown(data)


# --- resolution in the adapters --------------------------------------------------------------

@pytest.mark.parametrize("layer", [False, True], ids=["function", "layer"])
@pytest.mark.parametrize("framework", FRAMEWORK_BACKENDS)
def test_framework_default_builds_what_the_recorded_value_builds(framework, layer):
    """The adapter's framework_default run equals its run with the recorded value written out."""
    backend = backend_or_skip(framework)
    (asked,) = cases_from_data(leaky_case(ASK, layer=layer))
    result = backend.run(asked)
    name = "leaky" if layer else "hidden"
    (recorded,) = result.implementations[name].defaults
    (stated,) = cases_from_data(leaky_case(recorded["value"], layer=layer))
    expected = backend.run(stated)
    np.testing.assert_array_equal(result.outputs[name], expected.outputs[name])
    documented = DOCUMENTED[framework]["LeakyReLU.negative_slope" if layer else "leaky_relu.negative_slope"]
    assert recorded["value"] == documented


def test_a_framework_without_the_function_is_skipped_with_the_reason():
    from harness.backends.base import Unsupported

    backend = backend_or_skip("chainer")
    spec = ACTIVATIONS["gelu"].model_validate(
        {"name": "gelu", "approximate": {"framework_default": {"reference": "none", "reason": "r"}}})
    with pytest.raises(Unsupported, match="chainer 7.8.1 has no gelu"):
        backend.resolve_defaults(spec)


# --- outputs ---------------------------------------------------------------------------------

def test_docs_defaults_table_is_current(table):
    from harness.defaults.table import render_markdown, table_in

    for framework in FRAMEWORK_BACKENDS:
        backend_or_skip(framework)
    assert table_in(DEFAULTS_PAGE) == render_markdown(table).strip(), \
        "docs/defaults.md is stale: run `python -m harness defaults --write docs/defaults.md`"


def test_results_and_report_carry_the_table(tmp_path):
    from harness.entry.cli import main

    backend_or_skip("torch")
    case = Path(__file__).resolve().parent.parent / "cases" / "defaults_leaky_relu.yaml"
    assert main(["run", str(case), "--frameworks", "numpy,torch", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["defaults"]["frameworks"] == ["torch"]
    record = results["cases"][0]["frameworks"]["torch"]["implementations"]["output"]["defaults"][0]
    assert record["value"] == 0.01 and record["source"].startswith("torch.nn.functional.leaky_relu")
    index = (tmp_path / "index.html").read_text()
    assert "Framework defaults" in index and 'data-key="BatchNormalization.momentum"' in index
    page = (tmp_path / "cases" / "defaults_leaky_relu.function.html").read_text()
    assert "Framework defaults used" in page and "torch.nn.functional.leaky_relu (inspect.signature" in page


def test_report_says_when_the_table_could_not_be_built():
    from types import SimpleNamespace

    from harness.output.report.defaults_section import defaults_table
    from harness.output.report.site import environment

    section = defaults_table(SimpleNamespace(results={"defaults": {"error": "RuntimeError: <b>no</b>"}}))
    html = environment().get_template(section.template).render(data=section.data)
    assert "could not be built: RuntimeError: &lt;b&gt;no&lt;/b&gt;" in html
    assert defaults_table(SimpleNamespace(results={"defaults": None})) is None


def test_cli_prints_the_table(capsys):
    from harness.entry.cli import main

    backend_or_skip("torch")
    assert main(["defaults", "--frameworks", "torch"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| hyper-parameter | torch ")
    assert "| BatchNormalization: momentum | momentum=0.1 -> 0.9 (torch.nn.BatchNorm1d*) | agrees |" in out
    assert main(["defaults", "--frameworks", "theano"]) == 2


def test_concept_keys_name_a_spec_and_field():
    for concept in CONCEPTS:
        tag, field = concept.key.split(".")
        assert tag and field and concept.group in ("activation", "layer", "optimizer")


RECURRENT_ACTIVATION_KEYS = ("LSTM.activation", "LSTM.recurrent_activation", "GRU.activation",
                             "GRU.recurrent_activation")


@pytest.mark.parametrize("framework", FRAMEWORK_BACKENDS)
@pytest.mark.parametrize("key", RECURRENT_ACTIVATION_KEYS)
def test_the_schemas_recurrent_activation_defaults_are_each_frameworks_own(framework, key):
    """LSTM and GRU activations take the schema's default (tanh, sigmoid) rather than
    framework_default, which is only right while every framework's own default is that: the
    readers probe each framework's native layer, and must find the schema's value."""
    from harness.defaults.reading import DefaultContext
    from harness.defaults.resolve import readings

    backend = backend_or_skip(framework)
    layer, field = key.split(".")
    schema_default = LAYERS[layer].model_fields[field].get_default(call_default_factory=True).name
    (used,) = [r for r in readings(backend.default_readers, key, DefaultContext()) if r.used]
    assert used.effective == {"name": schema_default}, (used.api, used.effective)
