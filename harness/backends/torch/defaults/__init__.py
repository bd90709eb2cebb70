"""torch's defaults, read from torch itself: one reader per catalogue key (harness/defaults/).

The reading marked `used` is the API the torch builders call, so it is what a case's
`framework_default` resolves to here.
"""

from harness.backends.torch.defaults import activations, layers, optimizers  # noqa: F401
