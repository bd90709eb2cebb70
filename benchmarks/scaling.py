"""Does the harness's cost grow like the frameworks' own work? The MLP, LSTM and CNN at growing
sizes, each timed (a) written directly in every framework and (b) as a harness run, in one process.

(a) direct: the same network, weights and data written by hand in torch, Keras (eager, as the
    adapter runs it), chainer and NumPy, as a port would be: build the model, load the weights,
    one forward and backward pass (gradients of the loss w.r.t. every parameter and the input),
    read loss, output and gradients back into NumPy. Two figures per framework: `build+run`
    (what the harness must do for each case: every case builds its models afresh) and `step`
    (a forward and backward pass of the built model). All after one warm-up call; build+run and
    the harness run alternate, `--repeat` rounds, and each figure is the median. The NumPy side
    is the harness's own reference code: in the case's float32 (the `numpy` backend) and in
    float64 (the reference, the oracle every framework is compared with). Each direct
    implementation's loss is checked against the float64 reference before it is timed.
(b) harness: `run_session` on the same case, everything (reference, the four backends,
    comparisons against the reference and pairwise, the report with its pictures), its wall
    time split by Session.timings into frameworks, reference, comparisons and report (the
    frameworks' imports and the stored defaults table excluded: paid once per process). The
    case's strength (the reference again under each applicable transform, in every run's
    report) has its own column and is left out of the ratios: it analyses the case, it does not
    check the frameworks, and `run --no-strength` skips it. So has the hint search that a
    failed check starts (harness/diagnosis/hints.py, at most 20 s a check).

The table: per workload, the direct build+run times, the harness's split and total, the ratio
of the harness's total to the sum of the direct build+run times (frameworks and reference), the
harness's overhead beyond its frameworks' and reference's own time (comparisons + report, as a
share of frameworks + reference), and the float64 reference's step against torch's.

Threads: every framework and NumPy's BLAS get `--threads` (default 1), set before any import.
On a machine whose cores other processes share, two-thread pools wait on each other (torch's
LSTM step went from 11 ms to 600 ms under load here), which says nothing about the harness;
one thread each makes the ratios repeatable. `--threads 2` measures the two-core figures.

With --memory (default: the MLP at batch 4096), peak resident memory is measured in fresh
processes: the harness run of that workload, and each framework's direct build+run alone; and
the arrays the harness keeps (every RunResult and the reference) are added up.

    .venv/bin/python benchmarks/scaling.py --quick           # four workloads, about a minute
    .venv/bin/python benchmarks/scaling.py                   # all of them (several minutes)
    .venv/bin/python benchmarks/scaling.py --only lstm-s64   # one

Results go to benchmarks/scaling.json (--json PATH to change).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from thread_pinning import ROOT, THREADS  # noqa: E402  (before NumPy and the frameworks)

import numpy as np  # noqa: E402

FRAMEWORKS = ("torch", "keras", "chainer")


# --- the workloads, as case files -----------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    name: str
    kind: str
    """mlp, lstm or cnn."""
    batch: int
    width: int = 128
    steps: int = 0

    def case(self) -> dict[str, Any]:
        return {"mlp": self._mlp, "lstm": self._lstm, "cnn": self._cnn}[self.kind]()

    def _base(self) -> dict[str, Any]:
        return {"name": self.name.replace("-", "_"), "dtype": "float32", "samples": self.batch,
                "weights": {"seed": 1}}

    def _mlp(self):
        return {**self._base(),
                "description": f"784-{self.width}-10 relu MLP, softmax cross-entropy from logits",
                "inputs": {"x": {"shape": [784], "data": {"uniform": {"low": 0.0, "high": 1.0}}}},
                "targets": {"y": {"shape": [], "data": {"integers": {"low": 0, "high": 10}}}},
                "model": {"sequential": [{"type": "Dense", "name": "hidden", "units": self.width, "activation": "relu"},
                                         {"type": "Dense", "name": "logits", "units": 10}]},
                "loss": {"type": "sparse_categorical_crossentropy", "from_logits": True, "reduction": "mean"}}

    def _lstm(self):
        return {**self._base(),
                "description": f"LSTM 128 (tanh, sigmoid gates) over {self.steps} one-hot steps of 40, Dense 40 softmax",
                "inputs": {"x": {"shape": [self.steps, 40], "data": {"one_hot": {"classes": 40}}}},
                "targets": {"y": {"shape": [40], "data": {"one_hot": {"classes": 40}}}},
                "model": {"sequential": [{"type": "LSTM", "name": "lstm", "units": 128},
                                         {"type": "Dense", "name": "next", "units": 40, "activation": "softmax"}]},
                "loss": {"type": "categorical_crossentropy", "from_logits": False, "reduction": "mean"}}

    def _cnn(self):
        conv = {"kernel_size": 3, "activation": "relu", "data_format": "channels_first"}
        return {**self._base(),
                "description": "conv000's CNN, NCHW: Conv2D 8, MaxPooling 2, Conv2D 16, Flatten, Dense 10 (logits)",
                "inputs": {"image": {"shape": [1, 28, 28], "data": {"uniform": {"low": 0.0, "high": 1.0}}}},
                "targets": {"label": {"shape": [], "data": {"integers": {"low": 0, "high": 10}}}},
                "model": {"sequential": [
                    {"type": "Conv2D", "name": "conv1", "filters": 8, **conv},
                    {"type": "MaxPooling2D", "name": "pool", "pool_size": 2, "padding": "valid",
                     "data_format": "channels_first"},
                    {"type": "Conv2D", "name": "conv2", "filters": 16, **conv},
                    {"type": "Flatten", "name": "flatten"},
                    {"type": "Dense", "name": "logits", "units": 10}]},
                "loss": {"type": "sparse_categorical_crossentropy", "from_logits": True, "reduction": "mean"}}


WORKLOADS = [
    *(Workload(f"mlp-b{b}-w128", "mlp", b) for b in (128, 1024, 4096, 16384)),
    *(Workload(f"mlp-b4096-w{w}", "mlp", 4096, width=w) for w in (512, 2048)),
    *(Workload(f"lstm-s{s}", "lstm", 128, steps=s) for s in (8, 64, 256)),
    *(Workload(f"cnn-b{b}", "cnn", b) for b in (64, 512)),
]
QUICK = ("mlp-b128-w128", "mlp-b4096-w128", "lstm-s8", "cnn-b64")
MEMORY_DEFAULT = "mlp-b4096-w128"


# --- (a) each framework written directly ----------------------------------------------------

def direct_torch(workload: Workload, case) -> Callable[[], tuple[float, list[np.ndarray]]]:
    import torch
    import torch.nn.functional as F

    w = {k: torch.tensor(v) for k, v in case.weights.items()}
    data = {k: torch.tensor(v) for k, v in {**case.dataset.inputs, **case.dataset.targets}.items()}

    def build():
        if workload.kind == "mlp":
            hidden, logits = torch.nn.Linear(784, workload.width), torch.nn.Linear(workload.width, 10)
            params = [(hidden, "hidden"), (logits, "logits")]
            model = torch.nn.Sequential(hidden, torch.nn.ReLU(), logits)
        elif workload.kind == "cnn":
            conv1, conv2, logits = torch.nn.Conv2d(1, 8, 3), torch.nn.Conv2d(8, 16, 3), torch.nn.Linear(1936, 10)
            model = torch.nn.Sequential(conv1, torch.nn.ReLU(), torch.nn.MaxPool2d(2), conv2, torch.nn.ReLU(),
                                        torch.nn.Flatten(), logits)
            params = [(logits, "logits")]
            with torch.no_grad():
                for conv, name in ((conv1, "conv1"), (conv2, "conv2")):  # (kh, kw, in, out) -> (out, in, kh, kw)
                    conv.weight.copy_(w[f"{name}/kernel"].permute(3, 2, 0, 1))
                    conv.bias.copy_(w[f"{name}/bias"])
        else:
            lstm, dense = torch.nn.LSTM(40, 128, batch_first=True), torch.nn.Linear(128, 40)
            with torch.no_grad():  # Keras' [i, f, c, o] is torch's [i, f, g, o]; one bias
                lstm.weight_ih_l0.copy_(w["lstm/kernel"].T)
                lstm.weight_hh_l0.copy_(w["lstm/recurrent_kernel"].T)
                lstm.bias_ih_l0.copy_(w["lstm/bias"])
                lstm.bias_hh_l0.zero_()
            params = [(dense, "next")]

            class Model(torch.nn.Module):
                def __init__(self):
                    super().__init__()
                    self.lstm, self.dense = lstm, dense

                def forward(self, x):
                    return torch.softmax(self.dense(self.lstm(x)[0][:, -1]), dim=-1)
            model = Model()
        with torch.no_grad():
            for linear, name in params:
                linear.weight.copy_(w[f"{name}/kernel"].T)
                linear.bias.copy_(w[f"{name}/bias"])
        return model

    def step(model):
        x = data["image" if workload.kind == "cnn" else "x"].clone().requires_grad_(True)
        out = model(x)
        if workload.kind == "lstm":
            loss = -(data["y"] * torch.log(out)).sum(-1).mean()
        else:
            loss = F.cross_entropy(out, data["label" if workload.kind == "cnn" else "y"].long())
        parameters = list(model.parameters())
        grads = torch.autograd.grad(loss, [x, *parameters])
        return float(loss), [out.detach().numpy(), *(g.numpy() for g in grads)]

    return build, step


def direct_keras(workload: Workload, case):
    import keras
    import tensorflow as tf

    w = case.weights
    data = {**case.dataset.inputs, **case.dataset.targets}

    def build():
        if workload.kind == "mlp":
            model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(workload.width, activation="relu"),
                                      keras.layers.Dense(10)])
            model.set_weights([w["hidden/kernel"], w["hidden/bias"], w["logits/kernel"], w["logits/bias"]])
        elif workload.kind == "cnn":  # Keras on CPU convolves NHWC: the input and Flatten's order move
            model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(8, 3, activation="relu"),
                                      keras.layers.MaxPooling2D(2), keras.layers.Conv2D(16, 3, activation="relu"),
                                      keras.layers.Flatten(), keras.layers.Dense(10)])
            dense = w["logits/kernel"].reshape(16, 11, 11, 10).transpose(1, 2, 0, 3).reshape(1936, 10)
            model.set_weights([w["conv1/kernel"], w["conv1/bias"], w["conv2/kernel"], w["conv2/bias"],
                               dense, w["logits/bias"]])
        else:
            model = keras.Sequential([keras.Input((workload.steps, 40)), keras.layers.LSTM(128),
                                      keras.layers.Dense(40, activation="softmax")])
            model.set_weights([w["lstm/kernel"], w["lstm/recurrent_kernel"], w["lstm/bias"],
                               w["next/kernel"], w["next/bias"]])
        return model

    x = tf.constant(data["image"].transpose(0, 2, 3, 1) if workload.kind == "cnn" else data["x"])
    target = tf.constant(data["label" if workload.kind == "cnn" else "y"])
    loss_function = (keras.losses.CategoricalCrossentropy() if workload.kind == "lstm"
                     else keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def step(model):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = model(x, training=False)
            loss = loss_function(target, out)
        grads = tape.gradient(loss, [x, *model.trainable_variables])
        return float(loss), [out.numpy(), *(g.numpy() for g in grads)]

    return build, step


def direct_chainer(workload: Workload, case):
    import chainer
    import chainer.functions as F
    import chainer.links as L

    w = case.weights
    data = {**case.dataset.inputs, **case.dataset.targets}

    def linear(name, n_in, n_out):
        link = L.Linear(n_in, n_out)
        link.W.array[...] = w[f"{name}/kernel"].T
        link.b.array[...] = w[f"{name}/bias"]
        return link

    def build():
        if workload.kind == "mlp":
            return chainer.ChainList(linear("hidden", 784, workload.width), linear("logits", workload.width, 10))
        if workload.kind == "cnn":
            convs = []
            for name, n_in, n_out in (("conv1", 1, 8), ("conv2", 8, 16)):
                conv = L.Convolution2D(n_in, n_out, 3)
                conv.W.array[...] = w[f"{name}/kernel"].transpose(3, 2, 0, 1)
                conv.b.array[...] = w[f"{name}/bias"]
                convs.append(conv)
            return chainer.ChainList(*convs, linear("logits", 1936, 10))
        # F.lstm takes the four gates' inputs interleaved as (units, 4) in the order [a, i, f, o]
        cell = chainer.Link()
        with cell.init_scope():
            u = 128
            blocks = lambda m: [m[..., k * u:(k + 1) * u] for k in range(4)]  # noqa: E731  [i, f, c, o]
            interleave = lambda m: np.stack([blocks(m)[2], *blocks(m)[:2], blocks(m)[3]], axis=-1).reshape(*m.shape[:-1], 4 * u)  # noqa: E501,E731
            cell.W = chainer.Parameter(interleave(w["lstm/kernel"]))
            cell.U = chainer.Parameter(interleave(w["lstm/recurrent_kernel"]))
            cell.b = chainer.Parameter(interleave(w["lstm/bias"]))
        return chainer.ChainList(cell, linear("next", 128, 40))

    def step(model):
        x = chainer.Variable(data["image" if workload.kind == "cnn" else "x"])
        if workload.kind == "mlp":
            out = model[1](F.relu(model[0](x)))
            loss = F.softmax_cross_entropy(out, data["y"].astype(np.int32))
        elif workload.kind == "cnn":
            h = F.max_pooling_2d(F.relu(model[0](x)), 2, cover_all=False)
            out = model[2](F.relu(model[1](h)))
            loss = F.softmax_cross_entropy(out, data["label"].astype(np.int32))
        else:
            cell, batch = model[0], x.shape[0]
            c = h = np.zeros((batch, 128), dtype=np.float32)
            projected = F.matmul(F.reshape(x, (-1, 40)), cell.W) + F.broadcast_to(cell.b, (x.shape[0] * x.shape[1], 512))
            # One Variable per step (F.separate): slicing projected[:, t] would give each step's
            # backward a gradient of the whole sequence to add up.
            for step_input in F.separate(F.reshape(projected, (batch, x.shape[1], 512)), axis=1):
                c, h = F.lstm(c, step_input + F.matmul(h, cell.U))
            out = F.softmax(model[1](h))
            loss = -F.mean(F.sum(data["y"] * F.log(out), axis=1))
        model.cleargrads()
        loss.backward()
        return float(loss.array), [out.array, x.grad, *(p.grad for p in model.params())]

    return build, step


def direct_numpy(workload: Workload, case, dtype: str):
    from harness.backends.numpy_reference import run_reference

    def step(_model):
        result = run_reference(case, dtype)
        return float(result.loss), [*result.outputs.values(), *result.parameter_gradients.values()]

    return (lambda: None), step


def direct_makers(workload: Workload, case) -> dict[str, tuple[Callable, Callable]]:
    return {"torch": direct_torch(workload, case), "keras": direct_keras(workload, case),
            "chainer": direct_chainer(workload, case), "numpy": direct_numpy(workload, case, "float32"),
            "reference": direct_numpy(workload, case, "float64")}


def build_and_run(build, step) -> tuple[float, float, Any]:
    """(seconds, loss, model) of building the model and one forward and backward pass."""
    started = time.perf_counter()
    model = build()
    loss, _ = step(model)
    return time.perf_counter() - started, loss, model


def step_time(step, model, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        step(model)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# --- (b) the harness ------------------------------------------------------------------------

def harness_run(workload: Workload, scratch: Path) -> tuple[dict[str, float], Any]:
    from ruamel.yaml import YAML

    from harness.entry.session import run_session

    path = scratch / "cases" / f"{workload.name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        YAML(typ="rt").dump(workload.case(), handle)
    session = run_session([path], frameworks=["numpy", *FRAMEWORKS], out_dir=scratch / "report", command="scaling")
    timings = dict(session.timings)
    # The case's strength (harness/audit/strength.py: the reference run again under each
    # applicable transform) and the hint search on a failed check (bounded per check; a passing
    # case has none) analyse the case rather than check the frameworks: each timed on its own,
    # outside `harness` and the ratios.
    timings["harness"] = (timings["total"] - timings["imports"] - timings["defaults"] - timings["strength"]
                          - timings["diagnosis"])
    timings["report_bytes"] = sum(p.stat().st_size for p in (scratch / "report").rglob("*") if p.is_file())
    verdicts = [check.verdict for report in session.reports for check in report.checks]
    timings["verdicts"] = {v: verdicts.count(v) for v in sorted(set(verdicts))}
    return timings, session


def stored_bytes(session) -> int:
    """The arrays the harness keeps for the report: every backend's results and the reference."""
    def arrays(result) -> int:
        if result is None:
            return 0
        total = 0
        for part in (result.outputs, result.intermediates, result.parameter_gradients,
                     result.input_gradients, result.state):
            total += sum(np.asarray(a).nbytes for a in part.values())
        return total
    return sum(arrays(o.result) for r in session.reports for o in r.outcomes.values()) + \
        sum(arrays(r.reference) for r in session.reports)


# --- peak memory, in fresh processes ---------------------------------------------------------

def set_threads(frameworks: tuple[str, ...] = ("numpy", *FRAMEWORKS)) -> None:
    """Import the frameworks as the harness does and give torch THREADS (it sizes its pool from
    the machine, not from OMP_NUM_THREADS, once imported)."""
    from harness.entry.session import backends

    backends(list(frameworks))
    if "torch" in frameworks:
        import torch

        torch.set_num_threads(THREADS)


def child(role: str, name: str) -> None:
    """Run one side of one workload in this fresh process and print its peak resident memory
    (MiB): `harness` imports everything, a framework only itself."""
    set_threads() if role == "harness" else set_threads((role,))
    workload = next(w for w in WORKLOADS if w.name == name)
    from harness.weights import cases_from_data

    (case,) = cases_from_data(workload.case())
    extra = {}
    if role == "harness":
        with tempfile.TemporaryDirectory() as scratch:
            _, session = harness_run(workload, Path(scratch))
            extra["stored_mib"] = stored_bytes(session) / 2**20
    else:
        build, step = {"torch": direct_torch, "keras": direct_keras, "chainer": direct_chainer}[role](workload, case)
        step(build())
    print(json.dumps({"peak_mib": peak_resident_mib(), **extra}))


def peak_resident_mib() -> float:
    """This process's peak resident memory: VmHWM, the high-water mark of its own address space.
    Not getrusage's ru_maxrss: Linux carries that across execve from the forking parent (see
    `setmax_mm_hiwater_rss` in fs/exec.c), so every child of a 1.5 GB benchmark process read 1.5 GB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: the best there is


def memory(name: str) -> dict[str, Any]:
    peaks = {}
    for role in ("harness", *FRAMEWORKS):
        out = subprocess.run([sys.executable, __file__, "--child", role, name], capture_output=True,
                             text=True, check=True, cwd=ROOT)
        peaks[role] = json.loads(out.stdout.strip().splitlines()[-1])
    largest = max(peaks[f]["peak_mib"] for f in FRAMEWORKS)
    bound = 2 * largest + peaks["harness"]["stored_mib"]
    return {"workload": name, "peak_mib": {k: round(v["peak_mib"]) for k, v in peaks.items()},
            "stored_mib": round(peaks["harness"]["stored_mib"]), "bound_mib": round(bound),
            "within": peaks["harness"]["peak_mib"] <= bound}


# --- the table ------------------------------------------------------------------------------

def measure(workload: Workload, repeat: int, scratch: Path) -> dict[str, Any]:
    """The direct build+run of every framework and the harness run, `repeat` times, interleaved
    (the machine's load changes from minute to minute: each round sees the same load), medians."""
    from harness.weights import cases_from_data

    (case,) = cases_from_data(workload.case())
    makers = direct_makers(workload, case)
    losses, models = {}, {}
    for name, (build, step) in makers.items():  # warm-up: each framework's first calls
        _, losses[name], models[name] = build_and_run(build, step)
    for name, loss in losses.items():  # the direct code computes what the case says
        assert abs(loss - losses["reference"]) <= 1e-4 * abs(losses["reference"]) + 1e-6, (name, loss, losses)
    rounds: dict[str, list[float]] = {name: [] for name in makers}
    harness_rounds = []
    for index in range(repeat):
        for name, (build, step) in makers.items():
            rounds[name].append(build_and_run(build, step)[0])
        harness_rounds.append(harness_run(workload, scratch / f"{workload.name}-{index}")[0])
    frameworks = {name: {"build_run": statistics.median(times),
                         "step": step_time(makers[name][1], models[name], repeat)}
                  for name, times in rounds.items()}
    timings = {key: statistics.median(r[key] for r in harness_rounds) for key in TIMED}
    timings["report_bytes"] = harness_rounds[-1]["report_bytes"]
    timings["verdicts"] = harness_rounds[-1]["verdicts"]
    direct_total = sum(f["build_run"] for f in frameworks.values())
    own = timings["frameworks"] + timings["reference"]
    return {"workload": workload.name, "description": workload.case()["description"], "batch": workload.batch,
            "direct": {k: {m: round(v, 5) for m, v in f.items()} for k, f in frameworks.items()},
            "harness": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in timings.items()},
            "ratio_harness_to_direct": round(timings["harness"] / direct_total, 2),
            "overhead": round((timings["comparisons"] + timings["report"]) / own, 3),
            "reference_to_torch_step": round(frameworks["reference"]["step"] / frameworks["torch"]["step"], 2)}


TIMED = ("load", "imports", "frameworks", "reference", "comparisons", "diagnosis", "defaults", "report", "strength",
         "total", "harness")


def print_table(rows: list[dict[str, Any]]) -> None:
    print("\n| workload | direct build+run, ms: torch / keras / chainer / numpy / reference | "
          "harness, s: frameworks / reference / comparisons / report = total | harness / direct | "
          "overhead | reference / torch (step) | strength, s | hint search, s |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        d, h = row["direct"], row["harness"]
        direct_text = " / ".join(f"{1e3 * d[k]['build_run']:.0f}" for k in ("torch", "keras", "chainer", "numpy", "reference"))
        harness_text = (f"{h['frameworks']:.2f} / {h['reference']:.2f} / {h['comparisons']:.2f} / "
                        f"{h['report']:.2f} = {h['harness']:.2f}")
        print(f"| {row['workload']} | {direct_text} | {harness_text} | {row['ratio_harness_to_direct']:.2f}x | "
              f"{100 * row['overhead']:.0f} % | {row['reference_to_torch_step']:.2f}x | {h['strength']:.2f} | "
              f"{h['diagnosis']:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--only", default=None, help="comma-separated workload names")
    parser.add_argument("--threads", type=int, default=1, help="threads of every framework and of BLAS")
    parser.add_argument("--repeat", type=int, default=3, help="timed repeats of each direct measurement")
    parser.add_argument("--memory", default=None, help=f"workload to measure peak memory of in fresh processes "
                                                       f"(default {MEMORY_DEFAULT}, none with --quick; 'none' to skip)")
    parser.add_argument("--json", default=str(ROOT / "benchmarks" / "scaling.json"))
    parser.add_argument("--child", nargs=2, metavar=("ROLE", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    names = args.only.split(",") if args.only else QUICK if args.quick else [w.name for w in WORKLOADS]
    selected = [w for w in WORKLOADS if w.name in names]
    started = time.perf_counter()
    set_threads()  # imports the frameworks, once, outside every measurement
    imports = time.perf_counter() - started
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        harness_run(Workload("warm-up", "mlp", 16), Path(scratch) / "warm-up")  # first calls, defaults table
        for workload in selected:
            rows.append(measure(workload, args.repeat, Path(scratch)))
            print(f"{workload.name}: harness {rows[-1]['harness']['harness']:.2f} s, "
                  f"{rows[-1]['ratio_harness_to_direct']:.2f}x direct, overhead {100 * rows[-1]['overhead']:.0f} %",
                  flush=True)
    print_table(rows)
    memory_name = args.memory or (None if args.quick or args.only else MEMORY_DEFAULT)
    peaks = memory(memory_name) if memory_name and memory_name != "none" else None
    if peaks:
        print(f"\npeak memory, {peaks['workload']}: harness {peaks['peak_mib']['harness']} MiB; direct "
              + ", ".join(f"{f} {peaks['peak_mib'][f]}" for f in FRAMEWORKS)
              + f" MiB; arrays kept {peaks['stored_mib']} MiB; bound 2 x largest + kept = {peaks['bound_mib']} MiB: "
              + ("within" if peaks["within"] else "over"))
    record = {"machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "threads": THREADS,
                          "load_average_at_end": os.getloadavg()},
              "imports_seconds": round(imports, 2), "repeat": args.repeat, "rows": rows, "memory": peaks}
    Path(args.json).write_text(json.dumps(record, indent=1) + "\n")
    print(f"\nwritten: {args.json}")


if __name__ == "__main__":
    main()
