"""Faults injected into each framework adapter, one or more per transform family, on the shipped
cases: the measurement issue 24 asks for ("the share of failed checks with an exact hint").

Two kinds of injection, each the way an adapter (or a port) really gets it wrong:

* a wrong weight binding (tests/layout_faults.py `bound_wrong`): the framework computes with the
  re-laid out or re-scaled weight, and its gradients and trained values come back through the
  same wrong map (its inverse; a dropped bias is read back as it is). Untransposed kernels,
  permuted gate blocks, GRU's 1 - z, flipped convolution kernels, dropped or doubled biases,
  the LSTM forget bias doubled in both layers of a stack;
* a wrong setting: the adapter builds the layer, loss or optimizer with another value than the
  case states (a default slope or epsilon, the padding's sides, a softmax axis, an optimizer
  formula, GRU's reset_after). The framework runs the case with that setting; the runner judges
  it against the case as written.

Each failed check (forward, intermediates, gradients, training) counts as exact when its hint
names exactly the injected transform(s) at the injected layer(s) with the injected choice.

    python -m tests.adapter_faults [--frameworks torch,chainer,keras] [--only TEXT] [--json FILE]

The same fault set runs unchanged on main before issue 24's work (de4a9c0):
`git worktree add /tmp/base de4a9c0; cp tests/adapter_faults.py tests/layout_faults.py
/tmp/base/tests/; cd /tmp/base && python -m tests.adapter_faults` (the faults are defined here,
not taken from the catalogue, so that transforms added since then do not change the set).
docs/diagnosis.md has the numbers.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import importlib
import json
import sys
import time
import warnings
from typing import Any, Callable

import numpy as np

from tests.layout_faults import bound_wrong, flip_spatial, negate_first_block, swap_blocks, swap_spatial, transpose


def _first(name: str, *modules: str) -> Any:
    """`name` from the first of `modules` that has it. This measurement runs on both sides of the
    package re-layout (issue 21): issue 24's "before" is main at de4a9c0, where the catalogue was
    harness/transforms/, the adapters harness/adapters/ and the runner harness/runner.py."""
    for module in modules:
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"no {name} in {', '.join(modules)}")


def _edit_class():
    """The catalogue's Edit (a copy of the resolved layer specs, losses and optimizer that builds a case)."""
    return _first("Edit", "harness.diagnosis.base", "harness.transforms.base")


def _get_backend(framework: str):
    return _first("get_backend", "harness.backends", "harness.adapters")(framework)


def _runner(name: str):
    return _first(name, "harness.checks.runner", "harness.runner")


def scale(factor: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda array: array * factor


def scale_block(count: int, block: int, factor: float) -> Callable[[np.ndarray], np.ndarray]:
    """Block `block` of the last axis's `count` blocks times `factor` (the LSTM forget bias)."""
    def scaled(array: np.ndarray) -> np.ndarray:
        blocks = np.split(array, count, axis=-1)
        blocks[block] = blocks[block] * factor
        return np.concatenate(blocks, axis=-1)
    return scaled


def identity(array: np.ndarray) -> np.ndarray:
    return array


# Setting faults: each edits the catalogue's Edit of the case (specs already resolved).
def activation(layer: str, **fields: Any) -> Callable:
    def change(edit) -> None:
        spec = edit.layers[layer]
        edit.layers[layer] = spec.model_copy(update={"activation": spec.activation.model_copy(update=fields)})
    return change


def layer_setting(layer: str, **fields: Any) -> Callable:
    return lambda edit: edit.update_layer(layer, **fields)


def optimizer_setting(**fields: Any) -> Callable:
    def change(edit) -> None:
        edit.optimizer = edit.optimizer.model_copy(update=fields)
    return change


def loss_setting(index: int = 0, **fields: Any) -> Callable:
    def change(edit) -> None:
        edit.losses[index] = edit.losses[index].model_copy(update=fields)
    return change


def every(*changes: Callable) -> Callable:
    def change(edit) -> None:
        for one in changes:
            one(edit)
    return change


def gru_reset_before(layer: str) -> Callable:
    """GRU built with reset_after false for a reset_after case, the two bias rows summed into
    the one bias it has (what a port that adds both biases computes)."""
    def change(edit) -> None:
        name = f"{layer}/bias"
        edit.weights[name] = edit.weights[name].sum(axis=0)
        edit.update_layer(layer, reset_after=False)
    return change


@dataclasses.dataclass
class Fault:
    name: str
    family: str
    """The issue's families: kernel layout, gate order, GRU convention, bias, default value,
    padding, axis, formula, optimizer formula."""
    path: str
    variant: str | None
    expected: tuple[tuple[str, str | None], ...]
    """(transform, layer) pairs the exact hint names, every one and nothing else."""
    choice: str = ""
    """What each named choice starts with ("" where the transform has one choice there)."""
    binding: tuple[tuple[str, ...], tuple[str, ...], Callable, Callable | None] | None = None
    """(layers, parameters, wrong, inverse): a wrong weight binding."""
    setting: Callable | None = None
    """A wrong setting: edits the catalogue's Edit of the case."""
    gradient_views: dict[str, Callable] = dataclasses.field(default_factory=dict)
    """parameter -> the gradient in the case's shape, where the wrong setting changes a
    parameter's shape (GRU's bias without reset_after)."""


RECURRENT = ("kernel", "recurrent_kernel", "bias")
TRAINING_LSTM = ("cases/recurrent_training.yaml", "lstm_sgd_momentum")
TRAINING_GRU = ("cases/recurrent_training.yaml", "gru_adam")
CNN = ("cases/seed008_cnn_batchnorm_training.yaml", "float64")
MLP_TRAINING = ("cases/port_mlp_training.yaml", None)
STACKED_LSTM = ("cases/recurrent_lstm.yaml", "stacked")

FAULTS = [
    # Weight bindings.
    Fault("LSTM gates i and f swapped", "gate order", *TRAINING_LSTM, (("recurrent.gate_order", "lstm"),),
          "[f, i, c, o]", binding=(("lstm",), RECURRENT, swap_blocks(4, 0, 1), None)),
    Fault("GRU gates z and r swapped", "gate order", *TRAINING_GRU, (("recurrent.gate_order", "gru"),),
          "[r, z, h]", binding=(("gru",), RECURRENT, swap_blocks(3, 0, 1), None)),
    Fault("GRU update gate as 1 - z", "GRU convention", *TRAINING_GRU, (("GRU.update_gate", "gru"),),
          binding=(("gru",), RECURRENT, negate_first_block(3), None)),
    Fault("Conv2D kernel flipped", "kernel layout", *CNN, (("conv.flipped_kernel", "conv"),),
          binding=(("conv",), ("kernel",), flip_spatial, None)),
    Fault("Conv2D kernel height/width swapped", "kernel layout", *CNN, (("kernel.transposed", "conv"),),
          binding=(("conv",), ("kernel",), swap_spatial, None)),
    Fault("Dense kernel untransposed", "kernel layout", "cases/layernorm_sequence.yaml", "features",
          (("kernel.transposed", "project"),), binding=(("project",), ("kernel",), transpose, None)),
    Fault("Dense bias doubled", "bias", *MLP_TRAINING, (("bias.dropped_or_doubled", "hidden"),), "added twice",
          binding=(("hidden",), ("bias",), scale(2.0), scale(0.5))),
    Fault("Dense bias dropped", "bias", *MLP_TRAINING, (("bias.dropped_or_doubled", "hidden"),), "dropped",
          binding=(("hidden",), ("bias",), scale(0.0), identity)),
    Fault("Dense bias doubled (Adam)", "bias", "cases/seed006_optimizers.yaml", "adam",
          (("bias.dropped_or_doubled", "hidden"),), "added twice",
          binding=(("hidden",), ("bias",), scale(2.0), scale(0.5))),
    Fault("LSTM forget bias doubled in both layers", "bias", *STACKED_LSTM,
          (("LSTM.forget_bias", "lstm_sequences"), ("LSTM.forget_bias", "lstm_last")), "added twice",
          binding=(("lstm_sequences", "lstm_last"), ("bias",), scale_block(4, 1, 2.0), scale_block(4, 1, 0.5))),
    # Settings.
    Fault("leaky_relu slope 0.01 in all three layers", "default value", "cases/seed003_exp_regression.yaml", "mlp",
          tuple(("leaky_relu.negative_slope", layer) for layer in ("hidden1", "hidden2", "output")), "0.01",
          setting=every(*(activation(layer, negative_slope=0.01) for layer in ("hidden1", "hidden2", "output")))),
    Fault("leaky_relu slope 0.01 (training)", "default value", *MLP_TRAINING,
          (("leaky_relu.negative_slope", "hidden"),), "0.01", setting=activation("hidden", negative_slope=0.01)),
    Fault("elu alpha 1.0 for 0.5", "default value", "cases/activations_losses.yaml", "elu_selu",
          (("elu.alpha", "elu_alpha_0_5"),), "1.0", setting=activation("elu_alpha_0_5", alpha=1.0)),
    Fault("BatchNorm epsilon 1e-5", "default value", *CNN, (("BatchNormalization.epsilon", "norm"),), "1e-05",
          setting=layer_setting("norm", epsilon=1e-5)),
    Fault("LayerNorm epsilon 1e-3", "default value", "cases/layernorm_sequence.yaml", "features",
          (("LayerNormalization.epsilon", "norm"),), "0.001", setting=layer_setting("norm", epsilon=1e-3)),
    Fault("BatchNorm momentum as torch's", "default value", *CNN,
          (("BatchNormalization.momentum_convention", "norm"),), setting=layer_setting("norm", momentum=0.125)),
    Fault("explicit padding on the other side", "padding", "cases/pool001_explicit_padding.yaml", "resnet_stem",
          (("padding.explicit_side", "down"),), setting=layer_setting("down", padding=[[1, 0], [1, 0]])),
    Fault("average pooling divisor without the padding", "padding", "cases/pool001_explicit_padding.yaml",
          "squeezenet_ceil", (("AveragePooling.count_include_pad", "torch_average"),),
          setting=layer_setting("torch_average", count_include_pad=False)),
    Fault("softmax over the batch axis", "axis", "cases/activations_losses.yaml", "classic",
          (("softmax.axis", "softmax"),), "along axis 0", setting=activation("softmax", axis=0)),
    Fault("cross-entropy reads probabilities as logits", "formula", "cases/activations_losses.yaml",
          "categorical_crossentropy_probabilities_sum", (("crossentropy.from_logits", None),),
          setting=loss_setting(from_logits=True)),
    Fault("GRU reset gate before the product", "GRU convention", "cases/recurrent_gru.yaml", "reset_after",
          (("GRU.reset_after", "gru"),), setting=gru_reset_before("gru"),
          gradient_views={"gru/bias": lambda g: np.stack([g, g])}),
    Fault("Adam epsilon after the bias correction", "optimizer formula", "cases/seed006_optimizers.yaml", "adam",
          (("adam.epsilon_placement", None),), setting=optimizer_setting(epsilon_placement="after_bias_correction")),
    Fault("SGD with Nesterov momentum", "optimizer formula", "cases/seed006_optimizers.yaml",
          "sgd_momentum_coupled_decay", (("sgd.nesterov", None),), setting=optimizer_setting(nesterov=True)),
    Fault("RMSprop epsilon inside the root", "optimizer formula", "cases/seed006_optimizers.yaml",
          "rmsprop_centered_momentum", (("rmsprop.epsilon_placement", None),),
          setting=optimizer_setting(epsilon_placement="inside_sqrt")),
]


def load_case(path: str, variant: str | None):
    cases = _first("load_cases_from_file", "harness.weights", "harness.case")(path)
    return next(c for c in cases if variant is None or c.id.endswith("." + variant))


def _wrong_case(case, fault: Fault):
    edit = _edit_class()(case)
    fault.setting(edit)
    return edit.case()


def run_fault(framework: str, fault: Fault) -> list[dict]:
    """The fault in `framework`, every check of its case judged with hints: one row per check
    that fails (and one row saying why, where the framework cannot run the faulted case)."""
    FAIL, CaseRunner, FrameworkOutcome = (_runner(n) for n in ("FAIL", "CaseRunner", "FrameworkOutcome"))
    backend = _get_backend(framework)
    base = {"fault": fault.name, "family": fault.family, "framework": framework, "case": fault.path}
    try:
        case = load_case(fault.path, fault.variant)
    except Exception as error:  # a case shipped after the commit measured (de4a9c0 lacks pool001)
        return [{**base, "check": None, "exact": False, "hint": None, "skipped": f"case not loadable here: {error}"[:200]}]
    runner = CaseRunner(copy.copy(case))
    started = time.perf_counter()
    try:
        if fault.binding is not None:
            layers, parameters, wrong, inverse = fault.binding
            with bound_wrong(backend, layers, parameters, wrong, inverse):
                result = backend.run(case)
        else:
            result = backend.run(_wrong_case(case, fault))
            for name, view in fault.gradient_views.items():
                if name in result.parameter_gradients:
                    result.parameter_gradients[name] = view(result.parameter_gradients[name])
    except Exception as error:  # the framework cannot run this fault (a setting it lacks)
        return [{**base, "check": None, "exact": False, "hint": None, "skipped": f"{type(error).__name__}: {error}"[:200]}]
    runner._outcomes[framework] = FrameworkOutcome(framework, result=result)
    rows = []
    for name in runner.checks():
        check = runner.check(framework, name)
        if check.verdict != FAIL:
            continue
        hint = check.hint or {}
        exact = _names(fault, hint.get("transforms", []))
        among = exact or any(_names(fault, other) for other in hint.get("alternatives", []))
        rows.append({**base, "check": name, "exact": exact, "among_equal_fits": among, "hint": hint.get("text"),
                     "search": (getattr(check, "search", None) or {}).get("text"),
                     "search_seconds": hint.get("seconds", (getattr(check, "search", None) or {}).get("seconds")),
                     "seconds": round(time.perf_counter() - started, 2)})
    if not rows:
        rows.append({**base, "check": None, "exact": False, "hint": None, "skipped": "no check failed"})
    return rows


def _names(fault: Fault, named: list[dict]) -> bool:
    """Whether `named` (a hint's transforms) is exactly the injected fault."""
    return ({(t["transform"], t["layer"]) for t in named} == set(fault.expected) and len(named) == len(fault.expected)
            and all(str(t["choice"]).startswith(fault.choice) for t in named))


CHECKS = ("forward", "intermediates", "gradients", "training")


def summarize(rows: list[dict], key: str = "exact") -> dict[str, tuple[int, int]]:
    """check -> (failed checks whose hint is exact, failed checks); `key` "among_equal_fits"
    also counts a hint that names the fault among equal fits (the case's data cannot tell them
    apart: the hint says so)."""
    failed = [r for r in rows if r["check"] is not None]
    table = {}
    for check in (*CHECKS, None):
        chosen = [r for r in failed if check is None or r["check"] == check]
        table[check or "all"] = (sum(bool(r.get(key)) for r in chosen), len(chosen))
    return table


def measure(frameworks: tuple[str, ...] = ("torch", "chainer", "keras"), only: str = "") -> list[dict]:
    rows = []
    for framework in frameworks:
        if _get_backend(framework).unavailable_reason() is not None:
            continue
        for fault in FAULTS:
            if only and only.lower() not in fault.name.lower():
                continue
            rows.extend(run_fault(framework, fault))
    return rows


def compare(before: list[dict], after: list[dict]) -> None:
    """Both runs' shares on the (framework, fault) pairs that ran in both: a case shipped after
    the earlier commit (pool001 at de4a9c0) is left out of both."""
    def ran(rows):
        return {(r["framework"], r["fault"]) for r in rows if r["check"] is not None}
    common = ran(before) & ran(after)
    print(f"on the {len(common)} (framework, fault) pairs both runs could inject:")
    for label, rows in (("before", before), ("after", after)):
        table = summarize([r for r in rows if (r["framework"], r["fault"]) in common])
        cells = ", ".join(f"{check} {exact}/{total}" for check, (exact, total) in table.items() if total)
        print(f"  {label}: {cells} ({100 * table['all'][0] / max(table['all'][1], 1):.1f} %)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", default="torch,chainer,keras")
    parser.add_argument("--only", default="", help="faults whose name contains this text")
    parser.add_argument("--json", help="write the rows here")
    parser.add_argument("--compare", metavar="BEFORE_JSON",
                        help="rows of another commit's run (its --json): both summarized on the faults both ran")
    options = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    started = time.perf_counter()
    rows = measure(tuple(options.frameworks.split(",")), options.only)
    for row in rows:
        if row["check"] is None:
            print(f"{row['framework']:<8} {row['fault']:<46} skipped: {row['skipped']}")
            continue
        said = row["hint"] or row.get("search") or ""
        print(f"{row['framework']:<8} {row['fault']:<46} {row['check']:<13} {'exact' if row['exact'] else ('equal' if row.get('among_equal_fits') else '-'):<6} "
              f"{said[:160]}")
    print()
    for framework in (*options.frameworks.split(","), None):
        chosen = [r for r in rows if framework is None or r["framework"] == framework]
        table = summarize(chosen)
        cells = ", ".join(f"{check} {exact}/{total}" for check, (exact, total) in table.items() if total)
        print(f"{framework or 'all frameworks'}: failed checks with an exact hint: {cells}")
        among = summarize(chosen, "among_equal_fits")["all"][0]
        if among != table["all"][0]:
            print(f"  ... or naming the fault among equal fits: {among}/{table['all'][1]}")
    searched = [r["search_seconds"] for r in rows if r.get("search_seconds") is not None]
    if searched:
        print(f"search time per failed check: median {sorted(searched)[len(searched) // 2]:.2f} s, "
              f"max {max(searched):.2f} s (bound {_first('TIME_BUDGET_S', 'harness.diagnosis.hints', 'harness.transforms.diagnosis'):g} s)")
    if options.compare:
        with open(options.compare) as handle:
            compare(json.load(handle), rows)
    print(f"wall time {time.perf_counter() - started:.0f} s")
    if options.json:
        with open(options.json, "w") as handle:
            json.dump(rows, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
