"""Builder registries of the chainer adapter, filled by the family modules beside this one."""

from harness.adapters.base import registry

LAYER_BUILDERS = registry()
ACTIVATION_BUILDERS = registry()
LOSS_BUILDERS = registry()
OPTIMIZER_BUILDERS = registry()
