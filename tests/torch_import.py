"""The preamble the torch import tests share: a module written as a user's file, built with a
seed, its state_dict saved, and `python -m harness import` run on it."""

from __future__ import annotations

from pathlib import Path

from harness.weights import load_cases_from_file
from harness.entry.cli import main


def import_torch_source(tmp_path: Path, source: str, class_name: str, input_shape: str, *, seed: int,
                        prepare=None):
    """(case, module): `source` written to tmp_path, `class_name` built after torch.manual_seed(seed)
    (then `prepare(module)` if given), saved, imported; the import must succeed."""
    import torch

    module_file = tmp_path / f"{class_name.lower()}.py"
    module_file.write_text(source)
    namespace: dict = {}
    exec(compile(source, str(module_file), "exec"), namespace)
    torch.manual_seed(seed)
    net = namespace[class_name]()
    if prepare is not None:
        prepare(net)
    weights = tmp_path / f"{class_name.lower()}.pt"
    torch.save(net.state_dict(), weights)
    out = tmp_path / f"{class_name.lower()}_case.yaml"
    assert main(["import", f"{module_file}:{class_name}", "--weights", str(weights),
                 "--input-shape", input_shape, "--out", str(out)]) == 0
    (case,) = load_cases_from_file(out)
    return case, net
