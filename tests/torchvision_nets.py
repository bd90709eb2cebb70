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


def measure_batch_statistics(net, shape) -> None:
    """BatchNorm running statistics measured on normal data of the case's shape (a cumulative
    average over a few train-mode passes), then torch's default momentum again: what the
    importer translates (it refuses momentum=None).

    For models whose outputs vanish in eval mode with the initial statistics (mean 0, variance
    1). MobileNetV2's do because torch's fan_out ignores groups (torch/nn/init.py
    `_calculate_fan_in_and_fan_out`: fan_out = weight.size(0) * kernel cells), so the
    kaiming_normal_(mode="fan_out") of torchvision's constructor (torchvision/models/mobilenetv2.py)
    gives a C-channel depthwise kernel the standard deviation sqrt(2 / (9 C)), not sqrt(2 / 9):
    each inverted-residual block shrinks the activations about tenfold (measured at 224x224:
    0.24 after the stem, 6e-9 before the classifier, outputs 9e-10). Training-mode BatchNorm
    renormalises every batch, so the network trains; measured statistics give eval mode the
    same normalisation, as a trained network's statistics do."""
    import torch

    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    net.train()
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _ in range(4):
            net(torch.randn(shape, generator=generator))
    for norm in norms:
        norm.momentum = 0.1
    net.eval()
