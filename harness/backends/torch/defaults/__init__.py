"""torch's defaults, read from torch itself: one reader per catalogue key (harness/defaults/),
registered in REGISTRY.defaults by the family module of the field (normalization.py,
recurrent.py, activation_layers.py, activations.py, optimizers.py); probing.py holds what
they share.

The reading marked `used` is the API the torch builders call, so it is what a case's
`framework_default` resolves to here.
"""
