"""torchvision's named classifiers, built by torchvision's own constructors with random weights
(`weights=None`: nothing is downloaded), as functions of no arguments for
`python -m harness import tests/torchvision_nets.py:resnet18 ...` (the torch importer calls a
function given in place of a class). torchvision is imported through
harness/backends/torch/torchvision_compat.py (its CUDA extension does not load beside the CPU torch)."""

from harness.backends.torch.torchvision_compat import torchvision_models

models = torchvision_models()


def resnet18():
    return models.resnet18(weights=None)


def mobilenet_v2():
    return models.mobilenet_v2(weights=None)


def squeezenet1_1():
    return models.squeezenet1_1(weights=None)


def vgg11():
    return models.vgg11(weights=None)


def mobilenet_v2_float64():
    """float64 parameters: tests/test_vision_models.py runs a model whose outputs vanish with
    torchvision's initialisation with measured BatchNorm statistics in float64 (its docstring)."""
    return models.mobilenet_v2(weights=None).double()


def vgg11_float64():
    """float64 parameters: in float32 a ReLU input of vgg11 lands within rounding of the kink
    (tests/test_vision_models.py FLOAT64_AT_A_KINK)."""
    return models.vgg11(weights=None).double()
