"""One Keras layer in the case's terms: the dispatch through REGISTRY.imports and the rule most
translations share.

Each family module registers, for the Keras classes that become its case layer kinds, an import
translation keyed by the class name a saved config carries (`type(layer).__name__`):
`(layer, dtype, problems, ignored) -> the case's layer spec`, registered with
`produces=(kind, ...)` and, where the layer's call arguments carry meaning, `call=` (see
`CallTranslation`). The case's layer types are Keras' own, with Keras' option names, so most
translations are `by_config`: the layer's `get_config()` key by key,

* a key that is a field of the harness's layer spec is copied (`units`, `activation`,
  `kernel_size`, `padding`, `return_sequences`, `reset_after`, ...);
* `name`, `dtype` (checked against the model's), `*_initializer` (the weights come from the
  file) and `build_config` carry no meaning the case needs;
* a regularizer, constraint or activity regularizer that is set, `trainable: false`, and any
  other key whose value differs from the layer class's own default
  (`inspect.signature(cls.__init__)`) is an `ImportProblem`: the harness cannot express it.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from harness.backends.keras.registry import IMPORT_TRANSLATIONS as imports
from harness.case.imported_model import ImportProblem
from harness.reference.layers import LAYERS

CARRIES_NOTHING = {"name", "dtype", "build_config", "seed"}
"""`seed`: Dropout's mask generator seed; the harness's Dropout states its own mask rule."""

CallTranslation = Callable[[str, list, dict, list], tuple[list, dict]]
"""(layer name, tensors read, call kwargs (consumed in place), problems) -> (the tensors the
case's node reads, fields the call sets): registered as `call=` beside a translation."""


def translate(layer, dtype: str, problems: list[ImportProblem], ignored: frozenset = frozenset()) -> dict[str, Any]:
    """The layer as the harness's layer spec, by the translation registered for its class;
    problems for what it cannot express. `ignored`: keys a wrapper sets on the layers it wraps,
    with no effect on a case."""
    kind = type(layer).__name__
    translation = imports.get(kind)
    if translation is None:
        reason = "the harness has no layer of this type"
        if not type(layer).__module__.startswith("keras"):
            reason += " " + subclassed_layer_advice(layer)
        problems.append(ImportProblem(layer.name, kind, reason))
        return {"name": layer.name, "type": kind}
    return translation(layer, dtype, problems, ignored)


SUBCLASSED_ADVICE = ("the importer of a saved file reads a model's graph of layers, not a layer's own `call`: "
                     "import the model object instead (`python -m harness import keras:module.py:build_model`, "
                     "or harness.weights.importing.import_keras_object(model, out)), which expands a subclassed "
                     "layer through its call, or write that call in the Functional API with Keras' built-in "
                     "layers (keras.io's TransformerBlock is MultiHeadAttention, Dropout, Add, "
                     "LayerNormalization and Dense, each of which imports)")


def subclassed_layer_advice(layer) -> str:
    """Why a subclassed layer (its own `call`) is refused, naming the built-in layers it holds,
    which the user can call in the Functional API instead."""
    inner = [f"{type(sub).__name__} {sub.name!r}" for sub in getattr(layer, "_layers", [])]
    holds = f"; it holds {', '.join(inner)}" if inner else ""
    return f"(a subclassed layer with its own call{holds}): {SUBCLASSED_ADVICE}"


def call_translation(kind: str) -> CallTranslation | None:
    return imports.about.get(kind, {}).get("call")


def by_config(kind: str, settings: dict[str, Any] | None = None,
              implied: Callable[[dict], dict] | None = None):
    """The translation of a Keras layer whose config keys are the case spec's `kind` fields.
    `settings`: fields the harness's spec requires where Keras leaves them implicit (Keras' own
    behaviour, stated); `implied`: the config with the values the layer filled in itself removed."""
    def translation(layer, dtype: str, problems: list[ImportProblem], ignored: frozenset = frozenset()) -> dict:
        return config_spec(layer, kind, dtype, problems, ignored, settings or {}, implied)
    return translation


def register_by_config(*kinds: str) -> None:
    """`by_config` for Keras classes named as the case layer kind each produces."""
    for kind in kinds:
        imports.register(kind, produces=(kind,))(by_config(kind))


def config_spec(layer, kind: str, dtype: str, problems: list[ImportProblem], ignored: frozenset,
                settings: dict[str, Any], implied: Callable[[dict], dict] | None) -> dict[str, Any]:
    config = (implied or (lambda c: c))(layer.get_config())
    fields = LAYERS[kind].model_fields
    defaults = {name: parameter.default for name, parameter in inspect.signature(type(layer).__init__).parameters.items()}
    spec: dict[str, Any] = {"name": layer.name, "type": kind, **settings}
    for key, value in config.items():
        if key in fields and key not in ("name", "type", "inputs"):
            spec[key] = plain(value)
        elif key == "dtype":
            policy = value.get("config", {}).get("name") if isinstance(value, dict) else value
            if policy not in (None, dtype):
                problems.append(ImportProblem(layer.name, kind, f"dtype policy {policy!r} where the model's "
                                                                f"weights are {dtype}"))
        elif key in CARRIES_NOTHING or key in ignored or key.endswith("_initializer"):
            continue
        elif key == "trainable":
            if value is not True:
                problems.append(ImportProblem(layer.name, kind, "trainable: false; the case trains every "
                                                                "parameter but moving statistics"))
        elif key.endswith(("_regularizer", "_constraint")):
            if value is not None:
                problems.append(ImportProblem(layer.name, kind, f"{key} is set; the harness has no {key}"))
        elif key not in defaults and value in (False, None, 0):
            # A switch that is off and that __init__ takes through **kwargs (LSTM's
            # zero_output_for_mask, which acts on masks only; LayerNormalization's rms_scaling).
            continue
        elif key not in defaults or not same(value, defaults[key]):
            problems.append(ImportProblem(layer.name, kind, f"option {key}={value!r} differs from Keras' "
                                                            f"default and the harness's {kind} has no such field"))
    return spec


def plain(value: Any) -> Any:
    """Tuples as lists, as a case file writes them (the specs take lists, strictly)."""
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def same(value: Any, default: Any) -> bool:
    if default is inspect.Parameter.empty:
        return False
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return list(value) == list(default)
    return value == default
