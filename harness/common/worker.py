"""The worker process a Python port runs in (its parent's side is worker_process.py).

A port is the user's code, run by design; running it in a process of its own means that what
it does to its process (a segfault in native code, `sys.exit`, `os._exit`, an endless loop,
changed global state) ends or stalls that process, not the run: the parent reports it as the
port's `error` and starts a fresh worker for the next case.

The worker imports only the standard library (numpy arrives with the first arrays it
unpickles), reads requests from one pipe and answers on another, both pickled by
multiprocessing.connection. Pickles pass only between the harness and its own worker.

    {"op": "load", "path": ..., "function": ...}  -> the function's signature, or why not
    {"op": "call", "path": ..., "function": ..., "args": (...), "kwargs": {...}} -> its value

What the port prints goes to the worker's stderr (its stdout is made the same file), which the
parent forwards and quotes when the worker dies. faulthandler prints the Python stack of a
crash there, and of a hung call on SIGUSR1 (the parent sends it before killing a worker that
ran past its timeout).
"""

from __future__ import annotations

import faulthandler
import importlib.util
import inspect
import os
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

PARENT_CHECK_S = 1.0
"""How often the worker looks whether its parent is still there (an orphan stops itself)."""

_MODULES: dict[tuple[str, float], Any] = {}


def main(requests_fd: int, replies_fd: int) -> None:
    os.dup2(2, 1)  # the port's print() goes to stderr: stdout is not the protocol, but keep it apart
    # The port's own thread only: the parent watch below is no news to the user.
    faulthandler.enable(file=sys.stderr, all_threads=False)
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=False)
    _stop_when_orphaned(os.getppid())
    requests, replies = Connection(requests_fd, writable=False), Connection(replies_fd, readable=False)
    while True:
        try:
            request = requests.recv()
        except (EOFError, OSError):
            return  # the parent closed the pipe: the run is over
        reply = HANDLERS[request["op"]](request)
        try:
            replies.send(reply)
        except Exception as exc:  # noqa: BLE001  the port returned something pickle cannot send
            replies.send({"status": "unsendable", "message": f"{type(exc).__name__}: {exc}"})
        sys.stdout.flush()
        sys.stderr.flush()


def load(request: dict[str, Any]) -> dict[str, Any]:
    """Import the file (once per file version) and describe the function's signature."""
    path = Path(request["path"])
    try:
        module = _import(path)
    except BaseException as exc:  # noqa: BLE001  whatever the user's import does, say what it was
        if isinstance(exc, KeyboardInterrupt):
            raise
        return {"status": "import_failed", "message": f"{type(exc).__name__}: {exc}",
                "details": user_traceback(exc, path)}
    function = getattr(module, request["function"], None)
    if not callable(function):
        found = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                       and getattr(v, "__module__", None) == module.__name__)
        return {"status": "no_function", "found": found}
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as exc:
        return {"status": "no_signature", "message": str(exc)}
    kinds = {p.name: p.kind.name for p in signature.parameters.values()}
    return {"status": "ok", "parameters": kinds, "signature": str(signature)}


def call(request: dict[str, Any]) -> dict[str, Any]:
    path = Path(request["path"])
    function = getattr(_import(path), request["function"])
    try:
        value = function(*request["args"], **request["kwargs"])
    except BaseException as exc:  # noqa: BLE001  sys.exit() included: it is the port's error
        if isinstance(exc, KeyboardInterrupt):
            raise
        return {"status": "raised", "message": f"{type(exc).__name__}: {exc}", "details": user_traceback(exc, path)}
    return {"status": "ok", "value": value}


HANDLERS = {"load": load, "call": call}


def _import(path: Path) -> Any:
    key = (str(path), path.stat().st_mtime)
    if key in _MODULES:
        return _MODULES[key]
    module_name = f"harness_port_{abs(hash(key)):x}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))  # so that it can import modules beside it
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    _MODULES[key] = module
    return module


def user_traceback(exc: BaseException, path: Path) -> str:
    """The traceback from the port's own file on (the harness's frames are not the user's)."""
    frames = traceback.extract_tb(exc.__traceback__)
    # No frame of the file (a SyntaxError): the exception says where.
    start = next((i for i, frame in enumerate(frames) if Path(frame.filename).resolve() == path), len(frames))
    lines = traceback.format_list(frames[start:]) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()


def _stop_when_orphaned(parent: int) -> None:
    """A parent killed with SIGKILL closes no pipe the worker waits on while it computes."""

    def watch() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})  # the stack asked for is the port's
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="harness-port-parent-watch").start()
