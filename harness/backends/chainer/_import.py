"""Import chainer 7.8.1 next to a modern setuptools.

At import, chainer runs `import numpy.distutils.system_info` (chainer/_environment_check.py).
numpy 1.26's numpy.distutils imports `distutils.msvccompiler`, which the stdlib distutils of
Python 3.11 has and setuptools' bundled copy (the default, through the `_distutils_hack` import
shim that setuptools installs with a .pth file) no longer has. Two ways out:

* the environment variable SETUPTOOLS_USE_DISTUTILS=stdlib, read once at interpreter start
  (the Makefile, tox.ini and .ci/run set it);
* for a plain `python -m harness` or `pytest` without it, remove the shim before chainer's
  import. `_distutils_hack.remove_shim` is setuptools' own switch for Python < 3.12. It only
  helps while no `distutils` has been imported yet, which is checked.

The pkg_resources deprecation warning chainer's check raises is silenced: it is about chainer's
code, and the harness pins setuptools below 81, where pkg_resources still exists.
"""

from __future__ import annotations

import os
import sys
import warnings


def _prefer_stdlib_distutils() -> None:
    if os.environ.get("SETUPTOOLS_USE_DISTUTILS") == "stdlib" or "distutils" in sys.modules:
        return
    try:
        import _distutils_hack
    except ImportError:  # no setuptools shim installed: the stdlib distutils is used anyway
        return
    remove = getattr(_distutils_hack, "remove_shim", None)
    if remove is not None:
        remove()


_prefer_stdlib_distutils()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    try:
        import chainer  # noqa: E402
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("distutils"):
            raise ImportError(
                f"chainer's import needs the stdlib distutils ({exc}); run with "
                "SETUPTOOLS_USE_DISTUTILS=stdlib, or import the harness before setuptools") from exc
        raise
    import chainer.functions as F  # noqa: E402
    import chainer.links as L  # noqa: E402

__all__ = ["chainer", "F", "L"]
