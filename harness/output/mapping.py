"""`python -m harness show --mapping CASE`: where each canonical parameter lives in each framework.

Builds the case in every installed framework (nothing is run) and prints, layer by layer, how
the framework realised it (native or composite, and why), and per canonical parameter the
native tensor's name and shape and the layout transform, as the adapters' `WeightBinding`s
state them. A parameter spread over several native tensors (GRU biases, chainer's one tensor
per gate) is listed once per tensor.
"""

from __future__ import annotations

import textwrap
import traceback

from harness.backends import get_backend
from harness.backends.base import FrameworkBackend, Unsupported
from harness.case import Case
from harness.case.schema import NATIVE_FRAMEWORKS as FRAMEWORKS

WIDTH = 100


def render_mapping(case: Case, frameworks: tuple[str, ...] = FRAMEWORKS) -> str:
    lines = [f'Weight mapping of "{case.id}": canonical layout (Keras\') -> each framework\'s own']
    for framework in frameworks:
        lines.append("")
        lines.extend(framework_mapping(case, framework))
    return "\n".join(lines)


def framework_mapping(case: Case, framework: str) -> list[str]:
    backend = get_backend(framework)
    reason = backend.unavailable_reason()
    if reason:
        return [f"[{framework}] skipped: {reason}"]
    assert isinstance(backend, FrameworkBackend)
    try:
        with backend.session(case):
            _, implementations = backend.build(case)
    except Unsupported as exc:
        return [f"[{framework}] cannot express this case: {exc}"]
    except Exception as exc:  # a crashing adapter is reported, the other frameworks still print
        return [f"[{framework}] error while building: {type(exc).__name__}: {exc}",
                *traceback.format_exc(limit=3).splitlines()]
    lines = [f"[{framework}] {backend.version()}"]
    for layer, implementation in implementations.items():
        kind = case.graph.layers[layer].type
        lines.extend(_wrap(f"{layer} ({kind}): {implementation.implementation}, {implementation.detail}", 2))
        if not implementation.bindings:
            continue
        for binding in implementation.bindings:
            name = binding["parameter"]
            canonical = list(case.graph.parameter_shapes[name])
            lines.append(f"    {name} {canonical} -> {binding['native_name']} {binding['native_shape']}")
            lines.extend(_wrap(binding["transform"], 8))
    return lines


def _wrap(text: str, indent: int) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=" " * indent, subsequent_indent=" " * (indent + 2),
                         break_on_hyphens=False)
