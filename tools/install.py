"""Install the harness and all four backends into the running Python environment.

Why a script and not one `pip install -e .[all]`: chainer 7.8.1 exists only as a source
distribution whose setup.py imports `pkg_resources`. pip's isolated build environment gets the
newest setuptools, which no longer ships `pkg_resources`, so the build fails. The recipe that
works is ordered:

1. setuptools (with `pkg_resources`), wheel and numpy<2 into the environment itself;
2. torch (the CPU wheel on disk), tensorflow-cpu and keras, all pinned by the constraints file;
3. chainer with `--no-build-isolation`, so its build sees step 1's setuptools;
4. the harness itself (editable) with its test dependencies (Playwright among them),
   dask.distributed (the `campaign` extra: `python -m harness campaign` on a cluster) and the
   shipped runtimes (the `shipping` extra: onnxruntime with onnx and onnxscript, ai-edge-litert;
   they install beside numpy 1.26 and the pinned torch and TensorFlow);
5. `pip check`, so a broken combination fails here and not in the middle of a test run.

Outside the Python environment, the report's browser test needs a Chromium. When none is on
PATH and this runs as root with apt-get (CI: a fresh Debian machine), it installs Debian's
`chromium` and a font with `--no-install-recommends` (26 packages rather than 131). Playwright
drives that binary; `playwright install` (a browser download) is never run. Elsewhere it says
so and goes on: the browser test then skips with the reason (and fails under
HARNESS_REQUIRE_FRAMEWORKS=1, as in CI).

The script is idempotent: it writes a stamp holding a hash of its inputs into the
environment and does nothing when the stamp matches. Usage:

    python tools/install.py            # everything (what `make test` / `make report` run)
    python tools/install.py --force    # ignore the stamp and reinstall
    python tools/install.py --vision-models   # also torchvision and pillow (the opt-in named
                                              # models group, docs/vision-models.md)

`--vision-models` installs torchvision with `--no-deps`: the only torchvision for torch 2.13 on
the package index is a CUDA build, and with its dependencies pip could replace the CPU torch with
a CUDA one (gigabytes). Its compiled extension does not load beside the CPU torch;
harness/backends/torch/torchvision_compat.py imports its pure-Python models anyway. The step runs after the
stamp check (it is not part of what the stamp covers) and does nothing when the pinned versions
are there; then it imports torchvision.models that way as a check.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"
STAMP = Path(sys.prefix) / ".harness-install-stamp"
STAMP_INPUTS = (CONSTRAINTS, ROOT / "pyproject.toml", Path(__file__).resolve())

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
"""The names tests/browser.py looks for (this script runs before the harness is importable)."""
BROWSER_PACKAGES = ("chromium", "fonts-dejavu-core")
VISION_PACKAGES = ("torchvision", "pillow")
"""`--vision-models`: pinned in requirements/constraints.txt, installed with --no-deps."""

STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("build tools chainer's setup.py needs", ("setuptools", "wheel", "numpy")),
    ("torch, tensorflow-cpu, keras", ("torch", "tensorflow-cpu", "keras", "ml-dtypes")),
    ("chainer (source build against the setuptools above)", ("--no-build-isolation", "chainer")),
    ("the harness, its test tools, dask.distributed for campaigns and the shipped runtimes "
     "(onnxruntime, ai-edge-litert)", ("-e", f"{ROOT}[test,campaign,shipping]")),
)


def stamp_text() -> str:
    digest = hashlib.sha256()
    for path in STAMP_INPUTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def pip(*arguments: str) -> None:
    command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check",
               "-q", "-c", str(CONSTRAINTS), *arguments]
    print("+", " ".join(command), flush=True)
    subprocess.run(command, check=True)


def ensure_chromium() -> None:
    """Install Debian's chromium for the report's browser test, when missing and possible."""
    if os.environ.get("HARNESS_CHROMIUM") or any(shutil.which(name) for name in CHROMIUM_NAMES):
        return
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        print("note: no Chromium found, and apt-get cannot install one here (it needs root on "
              "Debian/Ubuntu): the report's browser test will skip. Install chromium, or set "
              "HARNESS_CHROMIUM to a Chromium binary.", flush=True)
        return
    print("== chromium for the report's browser test (apt-get)", flush=True)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"],
                    ["apt-get", "install", "-y", "-q", "--no-install-recommends", *BROWSER_PACKAGES]):
        print("+", " ".join(command), flush=True)
        if subprocess.run(command, env=environment).returncode != 0:
            # Not fatal: everything else still installs; the browser test says what is missing.
            print("warning: installing chromium failed; the report's browser test will skip "
                  "(or fail in CI)", file=sys.stderr, flush=True)
            return


def ensure_vision_models() -> None:
    """torchvision (no dependencies: torch is already the pinned CPU build) and pillow, which
    torchvision/__init__ imports; then a check that torchvision.models imports and builds."""
    from importlib import metadata

    wanted = {line.split("==")[0].strip().lower(): line.split("==")[1].strip()
              for line in CONSTRAINTS.read_text().splitlines()
              if "==" in line and not line.lstrip().startswith("#")}
    installed = {}
    for name in VISION_PACKAGES:
        try:
            installed[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed[name] = None
    if any(installed[name] != wanted.get(name) for name in VISION_PACKAGES):
        print("== torchvision and pillow for the named vision models (--no-deps)", flush=True)
        pip("--no-deps", *VISION_PACKAGES)
    check = ("from harness.backends.torch.torchvision_compat import torchvision_models; "
             "print('torchvision.models:', len(torchvision_models().list_models()), 'models')")
    subprocess.run([sys.executable, "-c", check], check=True, cwd=ROOT)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="reinstall even if up to date")
    parser.add_argument("--vision-models", action="store_true",
                        help="also install torchvision and pillow (the opt-in vision_models test group)")
    options = parser.parse_args()
    if sys.version_info[:2] != (3, 11):
        print(f"error: the pinned frameworks need Python 3.11, this is {sys.version.split()[0]}. "
              "Create the environment with python3.11.", file=sys.stderr)
        return 2
    ensure_chromium()  # outside the stamp: a system package, and a cheap check when present
    if not options.force and STAMP.exists() and STAMP.read_text() == stamp_text():
        if options.vision_models:
            ensure_vision_models()
        return 0
    # chainer's import reads numpy.distutils, which needs the stdlib distutils (see
    # harness/backends/chainer/_import.py); the same holds for pip check below.
    os.environ["SETUPTOOLS_USE_DISTUTILS"] = "stdlib"
    for title, arguments in STEPS:
        print(f"== {title}", flush=True)
        pip(*arguments)
    subprocess.run([sys.executable, "-m", "pip", "check"], check=True)
    STAMP.write_text(stamp_text())
    if options.vision_models:
        ensure_vision_models()
    print(f"== installed into {sys.prefix}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
