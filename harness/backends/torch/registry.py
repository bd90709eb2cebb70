"""The torch package's one registry (harness/backends/framework_registry.py), filled by the family
modules beside this one: builders, import translations, reproducer templates, defaults readers."""

from harness.backends.framework_registry import FrameworkRegistry

REGISTRY = FrameworkRegistry("torch")

# The names the family modules register through (each is a part of REGISTRY, not a second registry).
LAYER_BUILDERS = REGISTRY.layers
ACTIVATION_BUILDERS = REGISTRY.activations
LOSS_BUILDERS = REGISTRY.losses
METRIC_BUILDERS = REGISTRY.metrics
OPTIMIZER_BUILDERS = REGISTRY.optimizers
DEFAULT_READERS = REGISTRY.defaults
"""`<spec tag>.<field>` -> reader of this framework's default (harness/defaults/)."""
IMPORT_TRANSLATIONS = REGISTRY.imports
REPRO_TEMPLATES = REGISTRY.templates
