"""Write the checkpoint files of cases/checkpoint_*.yaml, each with its framework's own saver.

    python tools/make_checkpoint_fixtures.py [DIRECTORY]     # default: cases/checkpoints/

Why: every other case takes its weights from initializers or literal values, so nothing showed
that a file a framework wrote itself loads (issue 27). Each model here is built with the
framework's own API, not the harness's adapters, gets weights drawn from a seeded NumPy
generator (the same numbers on every machine and version, unlike a framework's initializers),
and is saved by the framework's own saver:

* Keras: `model.save_weights("keras_mlp.weights.h5")`;
* torch: `torch.save(model.state_dict(), "torch_mlp.pt")`;
* chainer: `chainer.serializers.save_npz("chainer_mlp.npz", chain)`.

It also runs each model natively on INPUTS and prints its outputs: the `expect` of each case,
values the framework computed from its own file before the harness read it (a mapping error in
the harness would move every backend alike, so the reference alone could not see it).
tests/test_checkpoint_fixtures.py runs this into a temporary directory and checks that it
reproduces the shipped files' tensors and the cases' expected outputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

INPUTS = [[0.5, -1.0, 2.0], [-0.3, 0.8, 0.1], [1.5, 0.2, -0.7], [0.0, -0.4, -1.2]]
"""The cases' `x` (float32 literals), the same in the three cases."""

DEFAULT_DIRECTORY = Path(__file__).resolve().parent.parent / "cases" / "checkpoints"


def draw(seed: int, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    """float32 arrays N(0, 0.5^2), one per shape, from one seeded generator."""
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, 0.5, size=shape).astype(np.float32) for shape in shapes]


def keras_mlp(directory: Path) -> np.ndarray:
    """Dense(4, tanh) then Dense(2), saved with model.save_weights."""
    from harness.backends.keras._import import keras  # sets KERAS_BACKEND=tensorflow

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh", name="hidden"),
                              keras.layers.Dense(2, name="output")])
    kernel_1, bias_1, kernel_2, bias_2 = draw(1, (3, 4), (4,), (4, 2), (2,))  # Keras kernels are (in, out)
    model.get_layer("hidden").set_weights([kernel_1, bias_1])
    model.get_layer("output").set_weights([kernel_2, bias_2])
    model.save_weights(str(directory / "keras_mlp.weights.h5"))
    return np.asarray(model(np.array(INPUTS, np.float32)))


def torch_mlp(directory: Path) -> np.ndarray:
    """Linear(3, 5), sigmoid, Linear(5, 2), saved as a state_dict with torch.save."""
    import torch

    class MLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = torch.nn.Linear(3, 5)
            self.output = torch.nn.Linear(5, 2)

        def forward(self, x):
            return self.output(torch.sigmoid(self.hidden(x)))

    model = MLP()
    weight_1, bias_1, weight_2, bias_2 = draw(2, (5, 3), (5,), (2, 5), (2,))  # torch weights are (out, in)
    with torch.no_grad():
        for parameter, value in zip(model.parameters(), (weight_1, bias_1, weight_2, bias_2)):
            parameter.copy_(torch.from_numpy(value))
    torch.save(model.state_dict(), directory / "torch_mlp.pt")
    with torch.no_grad():
        return model(torch.tensor(INPUTS, dtype=torch.float32)).numpy()


def chainer_mlp(directory: Path) -> np.ndarray:
    """L.Linear(3, 4), relu, L.Linear(4, 2), saved with chainer.serializers.save_npz."""
    from harness.backends.chainer._import import F, L, chainer

    class MLP(chainer.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.hidden = L.Linear(3, 4)
                self.output = L.Linear(4, 2)

        def forward(self, x):
            return self.output(F.relu(self.hidden(x)))

    model = MLP()
    weight_1, bias_1, weight_2, bias_2 = draw(3, (4, 3), (4,), (2, 4), (2,))  # chainer's W is (out, in)
    for link, weight, bias in ((model.hidden, weight_1, bias_1), (model.output, weight_2, bias_2)):
        link.W.array[...] = weight
        link.b.array[...] = bias
    chainer.serializers.save_npz(str(directory / "chainer_mlp.npz"), model)
    with chainer.using_config("train", False):
        return model(np.array(INPUTS, np.float32)).array


MAKERS = {"keras": keras_mlp, "torch": torch_mlp, "chainer": chainer_mlp}
"""Framework -> the function that writes its file and returns its native outputs on INPUTS."""


def make_all(directory: Path) -> dict[str, np.ndarray]:
    directory.mkdir(parents=True, exist_ok=True)
    return {framework: make(directory) for framework, make in MAKERS.items()}


def main(argv: list[str]) -> int:
    directory = Path(argv[0]) if argv else DEFAULT_DIRECTORY
    for framework, outputs in make_all(directory).items():
        rows = ", ".join("[" + ", ".join(f"{value:.8g}" for value in row) + "]" for row in outputs)
        print(f"{framework}: outputs on INPUTS (the case's expect): [{rows}]")
    print(f"wrote {', '.join(sorted(p.name for p in directory.iterdir()))} in {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
