"""chainer's Add, Multiply, Concatenate: builders, and the import translations of the `+` and
F.concat nodes a traced forward records (harness/backends/chainer/trace.py)."""

from __future__ import annotations

import functools
import operator

from harness.backends.base import BuiltLayer
from harness.backends.chainer._import import F, chainer
from harness.backends.chainer.registry import IMPORT_TRANSLATIONS as imports
from harness.backends.chainer.registry import LAYER_BUILDERS as builders


@builders.register("Add")
def add(spec, ctx) -> BuiltLayer:
    return BuiltLayer(call=lambda *xs: F.add(*xs), detail="F.add")


@builders.register("Multiply")
def multiply(spec, ctx) -> BuiltLayer:
    return BuiltLayer(call=lambda *xs: functools.reduce(operator.mul, xs), detail="chainer Variable *")


@builders.register("Concatenate")
def concatenate(spec, ctx) -> BuiltLayer:
    return BuiltLayer(call=lambda *xs: F.concat(xs, axis=spec.axis % xs[0].ndim),
                      detail=f"F.concat(axis={spec.axis})")


@imports.register(chainer.functions.math.basic_math.Add, produces=("Add",))
def import_add(node, shapes, reasons) -> list[dict]:  # chainer/functions/math/basic_math.py: x + y
    if len(set(shapes)) > 1:
        reasons.append(f"adds arrays of shapes {shapes}: the case's Add does not broadcast")
    return [{"type": "Add"}]


@imports.register(chainer.functions.array.concat.Concat, produces=("Concatenate",))
def import_concat(node, shapes, reasons) -> list[dict]:
    # chainer/functions/array/concat.py: `axis` counts the batch axis, as the case's Concatenate does.
    return [{"type": "Concatenate", "axis": node.axis}]
