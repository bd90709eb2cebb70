"""Builder registries of the chainer adapter, filled by the family modules beside this one."""

from harness.backends.base import registry

LAYER_BUILDERS = registry()
ACTIVATION_BUILDERS = registry()
LOSS_BUILDERS = registry()
METRIC_BUILDERS = registry()
OPTIMIZER_BUILDERS = registry()
DEFAULT_READERS = registry()
"""`<spec tag>.<field>` -> reader of this framework's default (the defaults package beside this)."""
