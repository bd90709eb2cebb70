"""One registry per framework: everything that framework's package knows, per layer kind.

Each framework package (keras/, chainer/, torch/) has one `REGISTRY` in its registry.py, filled by
its family modules (core.py, conv.py, pooling.py, recurrent.py, ...): a family module registers,
for the layer kinds it holds, the builder (with its weight bindings), the import translations, the
reproducer templates and the readers of that framework's defaults. Nothing else registers; the
backend, the importer, the reproducer writer and the defaults audit read this object, and the
completeness table (`python -m harness support`, harness/output/support.py) is computed from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Hashable


class Entries(dict):
    """key -> function, with a decorator, `@entries.register(key, ..., **about)`: `about` is kept
    per key in `.about` (e.g. which case layer kinds an import translation produces)."""

    def __init__(self) -> None:
        super().__init__()
        self.about: dict[Hashable, dict[str, Any]] = {}

    def register(self, *keys: Hashable, **about: Any) -> Callable:
        def decorate(function):
            for key in keys:
                self[key] = function
                self.about[key] = about
            return function
        return decorate


class ImportTranslations(Entries):
    """Entries whose every registration states `produces=(kind, ...)`, the case layer kinds it
    can yield: the completeness table reads the importable column from them."""

    def register(self, *keys: Hashable, produces: tuple[str, ...], **about: Any) -> Callable:
        return super().register(*keys, produces=produces, **about)


@dataclass
class FrameworkRegistry:
    framework: str
    layers: Entries = field(default_factory=Entries)
    """case layer kind -> builder (harness/backends/base.py: FrameworkBackend.build_layer)."""
    activations: Entries = field(default_factory=Entries)
    losses: Entries = field(default_factory=Entries)
    metrics: Entries = field(default_factory=Entries)
    optimizers: Entries = field(default_factory=Entries)
    defaults: Entries = field(default_factory=Entries)
    """`<spec tag>.<field>` -> reader of this framework's default (harness/defaults/)."""
    imports: ImportTranslations = field(default_factory=ImportTranslations)
    """the framework's class or function -> translation into case layer(s); registered with
    `produces=(kind, ...)`, the case layer kinds it can yield."""
    templates: Entries = field(default_factory=Entries)
    """case layer kind -> reproducer template (harness/discovery/repro/)."""

    def importable_kinds(self) -> set[str]:
        """The case layer kinds some import translation produces."""
        return {kind for about in self.imports.about.values() for kind in about["produces"]}

    def reproducible_kinds(self) -> set[str]:
        return {str(kind) for kind in self.templates}

    def defaults_read(self) -> set[str]:
        """The spec tags (layer kinds, activation names, ...) with at least one default read."""
        return {str(key).split(".", 1)[0] for key in self.defaults}
