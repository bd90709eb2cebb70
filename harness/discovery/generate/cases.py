"""Drawing whole case files: a model (model.py), its data, weights, loss and optional training,
then checking that the case loads and that the float64 reference runs on it.

Case `index` of seed `seed` is drawn from its own generator, seeded by (seed, attempt), so a
case can be drawn again alone and the cases of one seed do not depend on how many were asked
for. An attempt that cannot be made to fit, does not load, or on which the reference fails or
produces non-finite or huge values is rejected with the reason, and the next attempt is drawn;
only cases that load and run are written.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from harness.backends.numpy_reference import run_reference
from harness.common.errors import CaseError
from harness.discovery.generate.distribution import Distribution
from harness.discovery.generate.model import REUSE, DrawnModel, ModelDrawer, Rejected
from harness.discovery.generate.options import DrawContext, draw_spec
from harness.reference.initializers import INITIALIZERS
from harness.reference.layers.base import LAYERS
from harness.reference.losses import LOSSES
from harness.reference.optimizers import OPTIMIZERS
from harness.weights import cases_from_data

LARGEST_VALUE = 1e4
"""A reference value beyond this is rejected: a float32 comparison of numbers that large
measures rounding of the inputs' magnitude, not a difference in meaning."""

DEFAULT_CHECKS = ["forward", "intermediates", "gradients"]


@dataclass
class GeneratedCase:
    name: str
    attempt: int
    focus: str
    data: dict[str, Any] | None
    """The case file's content; None when rejected."""
    reason: str = ""
    """Why the attempt was rejected."""

    @property
    def rejected(self) -> bool:
        return self.data is None


def focus_order(seed: int, distribution: Distribution) -> list[str]:
    """The kinds in a seeded order; attempt i is built around kind i modulo their number."""
    kinds = list(distribution.kinds or sorted(LAYERS))
    np.random.default_rng([seed, 0x6b696e64]).shuffle(kinds)
    return kinds


def draw_case(seed: int, attempt: int, distribution: Distribution, focus: str) -> dict[str, Any]:
    """One case file's content, drawn from the generator of (seed, attempt)."""
    rng = np.random.default_rng([seed, attempt])
    graph = rng.random() < distribution.graph_probability
    drawer = ModelDrawer(distribution, rng)
    model = drawer.draw(focus, graph)
    dtype = "float64" if rng.random() < distribution.float64_probability else "float32"
    low, high = distribution.samples
    samples = int(rng.integers(low, high + 1))
    samples = coinciding_samples(samples, model, distribution, rng)
    loss = draw_loss(rng, distribution)
    head = _head_activation(loss)
    if head is not None:
        config = {"type": "Activation", "activation": {"name": head}}
        drawer.append(model, config, LAYERS["Activation"].model_validate(config), [model.output],
                      model.output.shape)
    target_shape, target_data = _loss_spec(loss).target_data(model.output.shape, samples)
    data: dict[str, Any] = {
        "name": f"gen_{seed}_{attempt:05d}",
        "description": (f"Drawn by `python -m harness generate --seed {seed}` (attempt {attempt}): "
                        f"around {focus}, {'graph' if model.graph else 'sequential'}, "
                        f"{len(model.layers)} layers."),
        "dtype": dtype,
        "samples": samples,
        "data_seed": int(rng.integers(0, 1000)),
        "inputs": {tensor.name: _input_section(tensor, model, rng) for tensor in model.inputs},
        "targets": {"t": {"shape": target_shape, "data": target_data}},
        "model": model.model_section(),
        "weights": draw_weights(rng, model),
        "loss": loss,
        "checks": list(DEFAULT_CHECKS),
    }
    if rng.random() < distribution.training_mode_probability:
        data["mode"] = "training"
    if rng.random() < distribution.training_probability:
        data["optimizer"] = draw_optimizer(rng, distribution)
        steps = int(rng.integers(1, distribution.max_steps + 1))
        divisors = [d for d in range(1, samples + 1) if samples % d == 0]
        data["training"] = {"steps": steps, "batch_size": int(divisors[int(rng.integers(len(divisors)))])}
        data["checks"].append("training")
    return data


def coinciding_samples(samples: int, model, distribution: Distribution, rng: np.random.Generator) -> int:
    """With the coincidence probability, as many samples as the input's last axis (batch =
    features), where the samples' range allows it."""
    probability = distribution.coincidence_probability
    if probability <= 0 or rng.random() >= probability:
        return samples
    low, high = distribution.samples
    features = model.inputs[0].shape[-1] if model.inputs[0].shape else 0
    return features if low <= features <= high else samples


def _loss_spec(loss: dict[str, Any]):
    return LOSSES[loss["type"]].model_validate(loss)


def _head_activation(loss: dict[str, Any]) -> str | None:
    return _loss_spec(loss).output_activation()


def draw_loss(rng: np.random.Generator, distribution: Distribution) -> dict[str, Any]:
    names = [n for n in sorted(LOSSES) if distribution.losses is None or n in distribution.losses]
    kind = names[int(rng.integers(len(names)))]
    return draw_spec(LOSSES[kind], DrawContext(omit_probability=0.0), rng)


def draw_optimizer(rng: np.random.Generator, distribution: Distribution) -> dict[str, Any]:
    names = [n for n in sorted(OPTIMIZERS) if distribution.optimizers is None or n in distribution.optimizers]
    kind = names[int(rng.integers(len(names)))]
    return draw_spec(OPTIMIZERS[kind], DrawContext(), rng)


def _input_section(tensor, model: DrawnModel, rng: np.random.Generator) -> dict[str, Any]:
    if tensor.integer:
        reader = next(layer for layer in model.layers if tensor.name in layer.inputs)
        return {"shape": list(tensor.shape), "data": reader.spec.input_data()}
    if rng.random() < 0.5:
        scale = float([0.5, 1.0, 2.0][int(rng.integers(3))])
        return {"shape": list(tensor.shape), "data": {"normal": {"mean": 0.0, "std": scale}}}
    return {"shape": list(tensor.shape), "data": {"uniform": {"low": -1.0, "high": 1.0}}}


def draw_weights(rng: np.random.Generator, model: DrawnModel) -> dict[str, Any]:
    """A seed, and for each kind of parameter in the model, half of the time an initializer
    drawn from the registry instead of the layer's default. Keras' defaults start biases and
    BatchNormalization's statistics at 0 and 1, which would hide a bias or statistics that a
    framework drops or misplaces, so those get seeded values more often. Variances stay
    positive."""
    parameters = sorted({name for layer in model.layers if layer.config["type"] != REUSE
                         for name in layer.spec.parameter_shapes(layer.input_shapes)})
    defaults: dict[str, Any] = {}
    for name in parameters:
        if "variance" in name:
            defaults[name] = {"initializer": "random_uniform", "minval": 0.5, "maxval": 2.0}
        elif rng.random() < 0.5:
            kind = sorted(INITIALIZERS)[int(rng.integers(len(INITIALIZERS)))]
            defaults[name] = draw_spec(INITIALIZERS[kind], DrawContext(omit_probability=0.5), rng)
        elif name in ("bias", "beta", "moving_mean", "gamma"):
            defaults[name] = {"initializer": "random_normal", "mean": 1.0 if name == "gamma" else 0.0,
                              "stddev": 0.5}
    weights: dict[str, Any] = {"seed": int(rng.integers(0, 1000))}
    if defaults:
        weights["defaults"] = defaults
    return weights


def check_case(data: dict[str, Any]) -> str:
    """'' if the case loads and the float64 reference runs with finite, moderate values; else
    the reason it does not."""
    try:
        (case,) = cases_from_data(data, file=f"<generated {data['name']}>")
    except CaseError as exc:
        return "does not load: " + exc.render().splitlines()[0]
    try:
        result = run_reference(case)
    except Exception as exc:  # noqa: BLE001 (any failure of the reference rejects the case)
        return f"the reference fails: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return _value_problem(result)


def _value_problem(result) -> str:
    arrays = {"loss": result.loss, **{f"output:{k}": v for k, v in result.outputs.items()},
              **result.intermediates, **{f"grad:{k}": v for k, v in result.parameter_gradients.items()},
              **{f"grad:input:{k}": v for k, v in result.input_gradients.items()}}
    if result.training is not None:
        for step, (loss, parameters) in enumerate(zip(result.training.losses, result.training.parameters), 1):
            arrays[f"loss@step{step}"] = loss
            arrays.update({f"{k}@step{step}": v for k, v in parameters.items()})
    for name, array in arrays.items():
        array = np.asarray(array, dtype=np.float64)
        if not np.all(np.isfinite(array)):
            return f"the reference gives non-finite values in {name}"
        if array.size and np.abs(array).max() > LARGEST_VALUE:
            return f"the reference gives values up to {np.abs(array).max():.3g} in {name} (> {LARGEST_VALUE:g})"
    return ""


def generate(seed: int, count: int, distribution: Distribution = Distribution(), *,
             max_attempts: int | None = None) -> Iterator[GeneratedCase]:
    """Yields every attempt, accepted or rejected, until `count` cases were accepted."""
    order = focus_order(seed, distribution)
    accepted, attempt = 0, 0
    limit = max_attempts if max_attempts is not None else 20 * count + 100
    while accepted < count and attempt < limit:
        focus = order[attempt % len(order)]
        name = f"gen_{seed}_{attempt:05d}"
        try:
            data = draw_case(seed, attempt, distribution, focus)
            reason = check_case(data)
        except Rejected as exc:
            data, reason = None, str(exc)
        if reason:
            yield GeneratedCase(name, attempt, focus, None, reason)
        else:
            accepted += 1
            yield GeneratedCase(name, attempt, focus, data)
        attempt += 1


def to_yaml(data: dict[str, Any]) -> str:
    """A case file's text: block style for sections, flow style for the leaves."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")  # keeps the keys in the order written: name first, as people write cases
    yaml.default_flow_style = None
    yaml.width = 100
    yaml.indent(mapping=2, sequence=4, offset=2)
    stream = StringIO()
    yaml.dump(_plain(data), stream)
    return stream.getvalue()


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_case(data: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{data['name']}.yaml"
    path.write_text(to_yaml(data), encoding="utf-8")
    return path


def from_yaml(text: str) -> dict[str, Any]:
    """A case file's text as plain dicts and lists (what the generator and shrinker edit)."""
    from ruamel.yaml import YAML

    return _plain_loaded(YAML(typ="safe", pure=True).load(text))


def _plain_loaded(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain_loaded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_loaded(v) for v in value]
    return value
