"""What the adapters' reproducer templates (harness/backends/*/repro.py) share."""

from __future__ import annotations

from typing import Any, Callable, Mapping

from harness.common.errors import Unsupported


def activation_source(framework: str, sources: Mapping[str, str],
                      native_only_when: Mapping[str, Callable[[Any], bool]], spec: Any, x: str) -> str:
    """The source of activation `spec` applied to the expression `x`: the framework's native
    function from `sources` (activation name -> format string of `x` and `spec`). Refused where
    the builder composes the activation from primitives instead: `native_only_when` names the
    activations whose native function has a fixed option, with the test that `spec` has it."""
    if spec.name in native_only_when and not native_only_when[spec.name](spec):
        raise Unsupported(f"{spec.describe()} is composed from primitives by the builder; no template")
    source = sources.get(spec.name)
    if source is None:
        raise Unsupported(f"no {framework} source for activation {spec.name}")
    return source.format(x=x, spec=spec)
