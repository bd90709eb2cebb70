"""torchvision's model definitions beside the CPU torch these machines run.

The only torchvision wheel the package index serves for torch 2.13 (0.28.0) is a CUDA build:
its compiled extension (`torchvision/_C.so`) needs CUDA libraries the CPU torch does not ship,
so `torchvision/extension.py` fails to load it (quietly: `_has_ops()` is then False). Every
registration that needs the extension checks `_has_ops()`, except two in
`torchvision/_meta_registrations.py`: `@torch.library.register_fake("torchvision::nms")` and
`"torchvision::qnms"`, which run at `import torchvision` and raise
`RuntimeError: operator torchvision::nms does not exist`. `import torchvision.models` runs that
`__init__` first, so the pure-Python classifiers (resnet18, mobilenet_v2, ...) cannot be built.

`torchvision_models()` defines the schemas of those two operators (as `torchvision/csrc/ops/
nms.cpp` declares them) in a torch library fragment before the import, when, and only when, the
extension does not load: the fake registrations then find their operators and the import
completes. The operators have no kernel; calling `torchvision.ops.nms` raises torch's "no kernel"
error, which no classifier calls. Nothing in site-packages is edited; a torchvision whose
extension loads (a CPU build) is imported as it is.

`python tools/install.py --vision-models` installs the wheel (`--no-deps`, so pip never swaps
the CPU torch for a CUDA one) and pillow, which `torchvision/__init__` imports; docs/vision-models.md.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
"""The two operators torchvision/_meta_registrations.py registers fakes for unconditionally."""

_fragment = None  # the torch.library.Library holding the schemas; kept alive for the process


def torchvision_models() -> ModuleType:
    """`torchvision.models`, importable whether or not torchvision's compiled extension loads.
    Raises ModuleNotFoundError (with the install command) when torchvision is not installed."""
    if "torchvision.models" in sys.modules:
        return sys.modules["torchvision.models"]
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("torchvision is not installed: `python tools/install.py --vision-models` "
                                  "installs it (docs/vision-models.md)", name="torchvision")
    if not _extension_loads(Path(spec.origin).parent):
        _define_missing_operators()
    import torchvision.models

    return torchvision.models


def _extension_loads(package: Path) -> bool:
    """Load torchvision's `_C` as torchvision/extension.py does (torch.ops.load_library); True
    when it loads, so torchvision registers its operators itself."""
    import torch

    for library in sorted(package.glob("_C*.so")) + sorted(package.glob("_C*.pyd")):
        try:
            torch.ops.load_library(str(library))
            return True
        except (ImportError, OSError):
            return False
    return False


def _define_missing_operators() -> None:
    global _fragment
    import torch

    if _fragment is not None:
        return
    _fragment = torch.library.Library("torchvision", "FRAGMENT")
    for schema in SCHEMAS:
        name = schema.split("(", 1)[0]
        if not hasattr(torch.ops.torchvision, name):
            _fragment.define(schema)
