"""chainer's defaults, read from chainer itself: one reader per catalogue key (harness/defaults/).

The readers live beside the builders of their family (normalization.py, recurrent.py,
activations.py, activation_layers.py, optimizers.py), registered in REGISTRY.defaults; this
package holds only what they share (helpers.py).

The reading marked `used` is the API the chainer builders call (chainer.functions for
activations), so it is what a case's `framework_default` resolves to here. Where chainer has
two APIs with different defaults (L.LayerNormalization 1e-6 vs F.layer_normalization 1e-5;
L.StatelessGRU reset-before vs L.NStepGRU reset-after), both are read and shown.
"""
