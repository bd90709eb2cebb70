"""The parent's side of a Python port's worker process (the worker itself is worker.py).

One worker per port file, started at its first case and kept for the run (the file is imported
once, not per case), restarted after it dies or is killed and when the file changes. Every
request has the port's `timeout`; past it the worker is asked for its Python stack (SIGUSR1),
then its whole process group is killed. A worker that dies (a signal, `os._exit`, an exit
status) raises WorkerFailed with what is known: how it ended and the last lines of its stderr.

The worker is started with this Python and this process's sys.path (the harness's own directory
first), so that it imports the same harness and the same packages as the run, whatever the
working directory or `python -I` of the parent.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import harness

STDERR_LINES = 20
"""The end of a dead worker's stderr kept in the message (a faulthandler stack fits)."""
STACK_WAIT_S = 0.5
"""How long a hung worker is given to print its stack (SIGUSR1) before it is killed."""

BOOTSTRAP = ("import json, sys; sys.path[:0] = json.loads(sys.argv[3]); "
             "from harness.common.worker import main; main(int(sys.argv[1]), int(sys.argv[2]))")


class WorkerFailed(Exception):
    """The worker died or was stopped; the message says how, with its stderr's end."""


class PortWorker:
    """One worker process for one port file."""

    def __init__(self, path: Path, environment: dict[str, str] | None = None) -> None:
        self.path = path
        self.environment = dict(environment or {})
        """Variables set for the worker on top of this process's (Keras' other backends: KERAS_BACKEND)."""
        self.version = path.stat().st_mtime
        self.process: subprocess.Popen | None = None
        self.lock = threading.Lock()

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request and wait at most `timeout` seconds for the reply."""
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                self._start()
            start = self.stderr.seek(0, os.SEEK_END)
            try:
                self.requests.send(message)
                if not self.replies.poll(timeout):
                    self._stop(stack=True)
                    raise WorkerFailed(f"did not return within {timeout:g} s (the port's `timeout`); its worker "
                                       "process was stopped" + self._tail(start, "its stack and stderr"))
                reply = self.replies.recv()
            except (EOFError, OSError):
                status = self._stop(stack=False)
                raise WorkerFailed(f"its worker process {_ending(status)}" + self._tail(start, "its stderr")) from None
            finally:
                self._forward(start)
            return reply

    def close(self) -> None:
        with self.lock:
            if self.process is not None:
                self._stop(stack=False)

    def _start(self) -> None:
        requests_read, requests_write = os.pipe()
        replies_read, replies_write = os.pipe()
        self.stderr = tempfile.TemporaryFile(prefix="harness-port-")
        root = str(Path(harness.__file__).resolve().parent.parent)
        path = [root] + [os.path.abspath(entry) for entry in sys.path if os.path.abspath(entry) != root]
        try:
            # Its own session: a timeout kills the port's children with it.
            self.process = subprocess.Popen(
                [sys.executable, "-c", BOOTSTRAP, str(requests_read), str(replies_write), json.dumps(path)],
                stdin=subprocess.DEVNULL, stdout=self.stderr, stderr=self.stderr,
                pass_fds=(requests_read, replies_write), start_new_session=True,
                env={**os.environ, **self.environment} if self.environment else None)
        finally:
            os.close(requests_read)
            os.close(replies_write)
        self.requests = Connection(requests_write, readable=False)
        self.replies = Connection(replies_read, writable=False)

    def _stop(self, stack: bool) -> int:
        """Kill the worker's process group (after asking for its stack); its exit status."""
        process = self.process
        if stack and process.poll() is None:
            try:
                process.send_signal(signal.SIGUSR1)
                time.sleep(STACK_WAIT_S)
            except ProcessLookupError:
                pass
        kill_group(process)
        status = process.wait()
        for connection in (self.requests, self.replies):
            connection.close()
        self.process = None
        return status

    def _forward(self, start: int) -> None:
        """What the port printed during this request, to this process's stderr (pytest shows
        it with the test; `harness run` on the terminal)."""
        text = self._since(start)
        if text:
            sys.stderr.write(text)

    def _since(self, start: int) -> str:
        self.stderr.seek(start)
        text = self.stderr.read().decode(errors="replace")
        self.stderr.seek(0, os.SEEK_END)
        return text

    def _tail(self, start: int, label: str) -> str:
        lines = self._since(start).rstrip().splitlines()
        if not lines:
            return "\n  (its stderr was empty)"
        shown = lines[-STDERR_LINES:]
        head = f"\n  {label}" + (f" (last {STDERR_LINES} of {len(lines)} lines)" if len(lines) > STDERR_LINES else "")
        return "\n".join([head + ":", *("    " + line for line in shown)])


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL to the process's whole group (it leads one: start_new_session=True), so that no
    child or grandchild it started survives it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # already gone (a group whose leader exited and no member is left)


def _ending(status: int) -> str:
    if status < 0:
        name = signal.Signals(-status).name
        why = " (a crash in native code)" if -status in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT,
                                                         signal.SIGFPE, signal.SIGILL) else ""
        return f"was killed by signal {name}{why} before it returned"
    return (f"exited with status {status} before it returned (os._exit or exit in native code: "
            "a port must return its result, not end its process)")


_WORKERS: dict[str, PortWorker] = {}
_WORKERS_LOCK = threading.Lock()


def worker_for(path: Path) -> PortWorker:
    """The run's worker for this file; a fresh one when the file changed since it started."""
    with _WORKERS_LOCK:
        worker = _WORKERS.get(str(path))
        if worker is not None and worker.version != path.stat().st_mtime:
            worker.close()
            worker = None
        if worker is None:
            worker = _WORKERS[str(path)] = PortWorker(path)
        return worker


@atexit.register
def close_all() -> None:
    for worker in list(_WORKERS.values()):
        worker.close()
    _WORKERS.clear()
