"""A port as an external program (C, C++, Rust, JavaScript, ONNX Runtime, another Python).

For each run the harness makes a fresh temporary directory, writes

* `inputs.npz`: one array per model input, batch first, in the port's dtype;
* `weights.npz`: the weights in the form `weights_as` asks for (canonical: one array per
  `<layer>/<parameter>`; keras: `arr_0`, `arr_1`, ... in `model.get_weights()` order; torch and
  chainer: their native names);
* `targets.npz`: one array per target;

runs `build` (if given) and then `command` in the directory of the case file (or, for `--port`,
the working directory), each with the port's `timeout` and in a process group of its own that is
killed whole when the step ends or times out (no child it started survives it), and reads
`outputs.npz` back (keys in harness/ports/returns.py). In both command lines `{inputs}`,
`{weights}`, `{targets}`, `{outputs}` are those files' paths, `{workdir}` the temporary directory
and `{python}` the Python running the harness.

A build or command whose program is not installed (not on PATH) skips the port with that reason,
as a framework that is not installed is skipped. A non-zero exit, a timeout, or a missing or
misshapen outputs file is the port's `error`, with its stderr; the other backends still run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.backends.base import Backend, RunResult
from harness.case import Case
from harness.case.port import Port
from harness.ports.layouts import layout_for
from harness.ports.returns import build_result, flat_to_rich, port_error
from harness.common.worker_process import kill_group

STDERR_LINES = 40
"""The end of a failing program's stderr kept in the message (the whole of it is seldom needed)."""


class CommandPortBackend(Backend):
    name: ClassVar[str] = "port"

    def __init__(self, port: Port) -> None:
        self.port = port
        self.name = port.name  # type: ignore[misc]

    def version(self) -> str:
        return self.port.source

    def unavailable_reason(self) -> str | None:
        spec = self.port.spec
        for role, line in (("build", spec.build), ("command", None if spec.build else spec.command)):
            program = line[0] if line else None
            if program and "{" not in program and os.sep not in program and shutil.which(program) is None:
                return (f"port {self.port.name}: its {role} program {program!r} is not installed here (not on "
                        "PATH)" + (": install a C compiler (e.g. Debian's gcc)" if program in ("cc", "gcc", "clang")
                                   else ""))
        return None

    def run(self, case: Case) -> RunResult:
        spec = self.port.spec
        dtype = spec.dtype or case.spec.dtype
        layout = layout_for(spec.weights_as)
        with tempfile.TemporaryDirectory(prefix=f"harness-port-{self.port.name}-") as work:
            files = {"inputs": Path(work, "inputs.npz"), "weights": Path(work, "weights.npz"),
                     "targets": Path(work, "targets.npz"), "outputs": Path(work, "outputs.npz")}
            np.savez(files["inputs"], **_cast_all(case.dataset.inputs, dtype))
            np.savez(files["targets"], **_cast_all(case.dataset.targets, dtype))
            weights = layout.to_port(case, {name: value.astype(dtype) for name, value in case.weights.items()})
            if isinstance(weights, dict):
                np.savez(files["weights"], **weights)
            else:
                np.savez(files["weights"], *weights)
            values = {**{key: str(path) for key, path in files.items()}, "workdir": work, "python": sys.executable}
            if spec.build:
                self._execute(case, "build", spec.build, values)
            self._execute(case, "command", spec.command, values)
            flat = self._read(case, files["outputs"])
        return build_result(self.port, case, flat_to_rich(case, flat, self.port), layout, spec.dtype)

    def _execute(self, case: Case, role: str, line: list[str], values: dict[str, str]) -> None:
        try:
            argv = [part.format(**values) for part in line]
        except (KeyError, IndexError, ValueError) as exc:
            raise port_error(self.port, case, f"its {role} has an unknown placeholder ({exc})",
                             expected="{inputs}, {weights}, {targets}, {outputs}, {workdir}, {python} "
                                      "(double the braces for a literal one: {{ }})", found=line) from None
        try:
            completed = run_in_own_group(argv, self.port.directory, self.port.spec.timeout)
        except subprocess.TimeoutExpired as exc:
            raise port_error(self.port, case, f"its {role} did not finish in {self.port.spec.timeout:g} s "
                             "(the port's `timeout`); it and every process it started were killed",
                             details=_tail(exc.stderr, "stderr")) from None
        except OSError as exc:
            raise port_error(self.port, case, f"its {role} could not be started: {exc.strerror}",
                             expected=f"a program {argv[0]!r} relative to {self.port.directory}",
                             found=argv) from None
        if completed.returncode != 0:
            raise port_error(self.port, case, f"its {role} exited with status {completed.returncode}",
                             found=" ".join(argv), details=_tail(completed.stderr, "stderr")
                             + ("\n" + _tail(completed.stdout, "stdout") if completed.stdout.strip() else ""))

    def _read(self, case: Case, path: Path) -> dict[str, np.ndarray]:
        if not path.exists():
            raise port_error(self.port, case, "its command wrote no outputs file",
                             expected=f"an .npz file at the path given by {{outputs}} ({path.name})")
        try:
            with np.load(path, allow_pickle=False) as archive:
                return {key: archive[key] for key in archive.files}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise port_error(self.port, case, f"its outputs file cannot be read as .npz: {exc}",
                             expected="a NumPy .npz archive (numpy.savez)") from None


def run_in_own_group(argv: list[str], directory: Path, timeout: float) -> subprocess.CompletedProcess:
    """Run a program in a process group of its own and kill the whole group when it exits or is
    past `timeout`: a child or grandchild it started (`sleep 1000 &` in a script) does not
    outlive its step. Its output goes to files, not pipes, so that a background child holding
    them open cannot keep the step waiting after the program itself has exited."""
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(argv, cwd=directory, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                   start_new_session=True)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(process)
            process.wait()
            raise subprocess.TimeoutExpired(argv, timeout, output=_read(stdout), stderr=_read(stderr)) from None
        finally:
            kill_group(process)  # what it left running in the background (or all of it, on Ctrl-C)
            process.wait()
        return subprocess.CompletedProcess(argv, process.returncode, _read(stdout), _read(stderr))


def _read(file: Any) -> str:
    file.seek(0)
    return file.read().decode(errors="replace")


def _cast_all(arrays: dict[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    return {name: array.astype(dtype) if array.dtype.kind == "f" else array for name, array in arrays.items()}


def _tail(text: Any, label: str) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = (text or "").rstrip().splitlines()
    if not lines:
        return f"  ({label} was empty)"
    shown = lines[-STDERR_LINES:]
    head = f"  {label}" + (f" (last {STDERR_LINES} of {len(lines)} lines)" if len(lines) > STDERR_LINES else "") + ":"
    return "\n".join([head, *("    " + line for line in shown)])
