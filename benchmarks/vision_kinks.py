"""Why resnet18 at 224x224 in float32 fails checks the float64 reference passes: every ReLU input
and every max-pool window of torchvision's module compared element by element in float32 and
float64 on the case `benchmarks/vision_models.py` imports (same seed, same data, batch 2).

* ReLU kink crossings: elements whose float32 input is on the other side of 0 from the float64
  one (relu' is 0 on one side and 1 on the other: the gradient of everything upstream changes).
* max-pool crossings: windows whose float32 argmax is another element than the float64 one (a
  near tie: the gradient goes to another input element).
* the verification: float32 again, with each ReLU's mask and the max-pool's choices taken from
  the float64 run (the float32 values otherwise); if its gradients then pass the float32
  tolerance against float64, the crossings are the whole cause of the gradient failures.
* forward: per layer, the float32 error against the float64 value, against the tolerance
  (harness/common/compare.py DEFAULT_TOLERANCES["float32"]) and the tensor's scale.

    .venv/bin/python benchmarks/vision_kinks.py                # resnet18, 224x224 (minutes)
    .venv/bin/python benchmarks/vision_kinks.py --size 64
    .venv/bin/python benchmarks/vision_kinks.py --frameworks numpy keras chainer torch   # each one's own
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vision_models  # noqa: E402  (sets the threads and the element limit before the imports)

import numpy as np  # noqa: E402


def kink_run(net, x, t, forced=None):
    """Forward (recording every ReLU input and max-pool choice, in call order), the mean squared
    error, the gradients of the parameters and the input. `forced`: the masks and indices of
    another run to use instead of this run's own."""
    import torch
    import torch.nn.functional as F

    record = {"relu": [], "pool": [], "outputs": {}}
    relus = [m for m in net.modules() if isinstance(m, torch.nn.ReLU)]
    pools = [m for m in net.modules() if isinstance(m, torch.nn.MaxPool2d)]
    saved = {}

    def relu_forward(module):
        def forward(value):
            record["relu"].append(value.detach().clone())
            if forced is not None:
                mask = forced["relu"][len(record["relu"]) - 1] > 0
            else:
                mask = value > 0
            return value * mask.to(value.dtype)
        return forward

    def pool_forward(module):
        def forward(value):
            out, indices = F.max_pool2d(value, module.kernel_size, module.stride, module.padding,
                                        module.dilation, module.ceil_mode, return_indices=True)
            record["pool"].append((value.detach().clone(), indices))
            if forced is not None:
                indices = forced["pool"][len(record["pool"]) - 1][1]
            flat = value.flatten(2)
            return torch.gather(flat, 2, indices.flatten(2)).view_as(out)
        return forward

    for module in relus:
        saved[module] = module.forward
        module.forward = relu_forward(module)
    for module in pools:
        saved[module] = module.forward
        module.forward = pool_forward(module)
    handles = [m.register_forward_hook(lambda m, i, o, name=name: record["outputs"].__setitem__(name, o.detach()))
               for name, m in net.named_modules() if name and not list(m.children())]
    try:
        x = x.clone().requires_grad_(True)
        parameters = dict(net.named_parameters())
        loss = F.mse_loss(net(x), t)
        grads = torch.autograd.grad(loss, [x, *parameters.values()])
    finally:
        for module, forward in saved.items():
            module.forward = forward
        for handle in handles:
            handle.remove()
    record["gradients"] = dict(zip(["input", *parameters], [g.detach().double().numpy() for g in grads]))
    return record


def failing(actual: dict, expected: dict, rtol: float, atol: float) -> dict:
    """name -> (elements off, worst |a - e| / allowed) for the tensors that fail atol + rtol |e|."""
    out = {}
    for name, e in expected.items():
        a = np.asarray(actual[name], dtype=np.float64)
        e = np.asarray(e, dtype=np.float64)
        ratio = np.abs(a - e) / (atol + rtol * np.abs(e))
        if (ratio > 1).any():
            out[name] = (int((ratio > 1).sum()), float(ratio.max()))
    return out


def diagnose(name: str, size: int, scratch: Path) -> dict:
    """`diagnose_net` on the case benchmarks/vision_models.py imports for `name` at `size`."""
    import torch

    from harness.weights import load_cases_from_file

    torch.set_num_threads(vision_models.THREADS)
    path, net32, _ = vision_models.import_case(name, size, scratch)
    (case,) = load_cases_from_file(path)
    return {"model": name, "size": size, **diagnose_net(net32, case)}


def diagnose_net(net32, case) -> dict:
    """The float32 module against a float64 copy on the case's data: ReLU and max-pool crossings,
    per-layer forward errors, the failing gradients as run and with float64's masks forced."""
    import torch

    from harness.common.compare import DEFAULT_TOLERANCES

    (inputs,) = case.dataset.inputs.values()
    (targets,) = case.dataset.targets.values()
    net64 = copy.deepcopy(net32).double()
    run64 = kink_run(net64, torch.from_numpy(inputs).double(), torch.from_numpy(targets).double())
    run32 = kink_run(net32, torch.from_numpy(inputs), torch.from_numpy(targets))
    forced = kink_run(net32, torch.from_numpy(inputs), torch.from_numpy(targets), forced=run64)
    tolerance = DEFAULT_TOLERANCES["float32"]
    result = {"batch": int(inputs.shape[0]), "relu_calls": [], "pools": [], "forward": []}
    for index, (v64, v32) in enumerate(zip(run64["relu"], run32["relu"])):
        v64, v32 = v64.numpy(), v32.double().numpy()
        error = np.abs(v32 - v64)
        crossed = np.argwhere((v64 > 0) != (v32 > 0))
        near = np.argwhere(np.abs(v64) <= error.max())
        result["relu_calls"].append({
            "call": index, "elements": int(v64.size), "max_float32_error": float(error.max()),
            "within_max_error_of_0": len(near),
            "near": [{"at": [int(i) for i in at], "float64": float(v64[tuple(at)]), "float32": float(v32[tuple(at)])}
                     for at in near[:10]], "crossed": len(crossed),
            "crossings": [{"at": [int(i) for i in at], "float64": float(v64[tuple(at)]),
                           "float32": float(v32[tuple(at)])} for at in crossed[:10]]})
    for (v64, i64), (v32, i32) in zip(run64["pool"], run32["pool"]):
        differ = np.argwhere(i64.numpy() != i32.numpy())
        flat64, flat32 = v64.flatten(2).numpy(), v32.flatten(2).double().numpy()
        rows = []
        for at in differ[:10]:
            n, c = at[0], at[1]
            a, b = int(i64.numpy()[tuple(at)]), int(i32.numpy()[tuple(at)])
            rows.append({"at": [int(i) for i in at], "float64_choice": a, "float32_choice": b,
                         "float64_values": [float(flat64[n, c, a]), float(flat64[n, c, b])],
                         "float32_values": [float(flat32[n, c, a]), float(flat32[n, c, b])]})
        result["pools"].append({"windows": int(i64.numel()), "choices_differ": len(differ), "examples": rows})
    for layer, o64 in run64["outputs"].items():
        o64 = o64.numpy()
        o32 = run32["outputs"][layer].double().numpy()
        error = np.abs(o32 - o64)
        allowed = tolerance["intermediates"].atol + tolerance["intermediates"].rtol * np.abs(o64)
        result["forward"].append({"layer": layer, "std": float(o64.std()), "max_abs": float(np.abs(o64).max()),
                                  "max_error": float(error.max()), "over": int((error > allowed).sum()),
                                  "worst_ratio": float((error / allowed).max())})
    g = tolerance["gradients"]
    result["gradients_failing_float32"] = failing(run32["gradients"], run64["gradients"], g.rtol, g.atol)
    result["gradients_failing_forced"] = failing(forced["gradients"], run64["gradients"], g.rtol, g.atol)
    result["gradients_scale"] = {k: float(np.abs(v).max()) for k, v in run64["gradients"].items()
                                 if k in result["gradients_failing_float32"]}
    result["summary"] = summary(result)
    return result


def relu_inputs(case) -> dict[str, str]:
    """ReLU node -> the node whose output it reads (an Activation layer of relu, or a layer's
    own relu activation is inside that layer and not seen here: torchvision's are modules)."""
    found = {}
    for node in case.graph.nodes:
        spec = node.spec
        if getattr(spec, "type", "") == "Activation" and getattr(spec.activation, "name", spec.activation) == "relu":
            (found[node.name],) = node.inputs
    return found


def framework_crossings(case, frameworks) -> dict:
    """Per framework, the ReLU inputs on the other side of 0 from the float64 reference, read
    from the harness's own run of the case (every node's output): each framework's own kinks."""
    from harness.backends import get_backend
    from harness.backends.numpy_reference import run_reference

    reference = run_reference(case, train=False).intermediates
    inputs = relu_inputs(case)
    out = {}
    for name in frameworks:
        if name == "numpy":
            result = run_reference(case, "float32", framework="numpy", train=False)
        else:
            result = get_backend(name).run(case)
        rows = []
        for relu, source in inputs.items():
            e, a = reference[source], np.asarray(result.intermediates[source], dtype=np.float64)
            for at in np.argwhere((e > 0) != (a > 0))[:10]:
                rows.append({"relu": relu, "input": source, "at": [int(i) for i in at],
                             "float64": float(e[tuple(at)]), name: float(a[tuple(at)])})
        out[name] = rows
    return {"relu_nodes": len(inputs), "by_framework": out}


def summary(result: dict) -> dict:
    """The counts a benchmark row states beside its verdicts."""
    over = [f for f in result["forward"] if f["over"]]
    return {"relu_crossings": sum(c["crossed"] for c in result["relu_calls"]),
            "relu_inputs": sum(c["elements"] for c in result["relu_calls"]),
            "pool_crossings": sum(p["choices_differ"] for p in result["pools"]),
            "gradients_failing_float32": len(result["gradients_failing_float32"]),
            "gradients_failing_with_float64_masks": len(result["gradients_failing_forced"]),
            "intermediates_over_tolerance": len(over),
            "intermediates_worst_ratio": max((f["worst_ratio"] for f in over), default=0.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet18", choices=vision_models.MODELS)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1, help="read before the imports (vision_models.py)")
    parser.add_argument("--frameworks", nargs="*", default=[],
                        help="also each framework's own crossings, from the harness's run of the case")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        result = diagnose(arguments.model, arguments.size, Path(scratch))
        if arguments.frameworks:
            from harness.weights import load_cases_from_file
            (case,) = load_cases_from_file(Path(scratch) / "cases" / f"{arguments.model}.yaml")
            result["framework_crossings"] = framework_crossings(case, arguments.frameworks)
    text = json.dumps(result, indent=1)
    if arguments.json:
        arguments.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
