"""Where a campaign's tasks run: local worker processes, or a Dask cluster.

Both hand back results as they complete (`run(function, payloads)` yields each result, in
completion order), so the driver writes each one down before the next arrives and a crash loses
nothing finished.

* `LocalExecutor`: `concurrent.futures.ProcessPoolExecutor` with `spawn` processes (TensorFlow
  and torch do not survive a fork after their import), each importing the frameworks once in its
  initializer. Two tasks per worker are in flight at a time; a worker that dies breaks the pool:
  the pool is rebuilt, the rest go on, and the few tasks in flight run again, a task in flight
  at two breakages alone, so the crashing case is named.
* `DaskExecutor`: dask.distributed. With an address (`--scheduler tcp://host:8786`) it joins that
  cluster; without, it starts a `LocalCluster` of single-threaded worker processes. Each worker
  imports the frameworks on its first task and keeps them. A worker that dies has its task
  re-run elsewhere by the scheduler (Dask's `allowed-failures`); a task that fails every time is
  recorded as that task's error.
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any, Callable, Iterable, Iterator

from harness.discovery.campaign.tasks import SINGLE_THREAD, warm_up

Task = Callable[[dict[str, Any]], dict[str, Any]]


class ExecutorUnavailable(Exception):
    """The chosen executor cannot run here (dask not installed, scheduler unreachable)."""


class LocalExecutor:
    """A worker killed by a native crash (a framework's `double free`, a segfault) breaks a
    ProcessPoolExecutor and fails every task in flight. The pool is then rebuilt and those tasks
    submitted again; a task in flight at two breakages is run alone in a fresh one-process pool,
    so the case that crashes is recorded as crashing its worker and the others run."""

    def __init__(self, workers: int, frameworks: tuple[str, ...]) -> None:
        self.workers = workers
        self.frameworks = frameworks
        self.description = f"{workers} local worker process(es)"
        self.pool: ProcessPoolExecutor | None = None

    def _pool(self, workers: int) -> ProcessPoolExecutor:
        self.pool_workers = workers
        return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                   initializer=warm_up, initargs=(self.frameworks,))

    def __enter__(self) -> "LocalExecutor":
        os.environ.update({k: v for k, v in SINGLE_THREAD.items() if k not in os.environ})
        self.pool = self._pool(self.workers)
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def run(self, function: Task, payloads: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        lost: list[dict[str, Any]] = []
        yield from self._round(function, payloads, lost)
        suspects: list[dict[str, Any]] = []
        if lost:
            retry, lost = lost, []
            yield from self._round(function, retry, suspects)
        for payload in suspects:  # alone, so that a crash is this case's own
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = self._pool(1)
            crashed: list[dict[str, Any]] = []
            yield from self._round(function, [payload], crashed)
            for item in crashed:
                yield self._crash_result(function, item)
        if suspects:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = self._pool(self.workers)

    def _crash_result(self, function: Task, payload: dict[str, Any]) -> dict[str, Any]:
        """A case that kills its worker: run it once per framework, alone, to name which."""
        culprits = []
        for framework in payload.get("frameworks", []):
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = self._pool(1)
            again: list[dict[str, Any]] = []
            list(self._round(function, [{**payload, "frameworks": [framework]}], again))
            if again:
                culprits.append(framework)
        failures = [{"primary": {"framework": framework, "check": "run", "verdict": "error",
                                 "kind": "crash:worker process died", "layer": "", "hint": "",
                                 "message": f"running this case in {framework} kills the process "
                                            "(a native crash, e.g. 'double free or corruption')"},
                     "also": []} for framework in culprits]
        return {"name": payload.get("name", ""), "focus": payload.get("focus", ""), "crashed": True,
                "failures": failures, "verdicts": {}, "layers": 0,
                "error": "the worker process running this case alone died; in isolation: "
                         + (", ".join(culprits) or "no single framework (the crash needs several)")}

    def _round(self, function: Task, payloads: Iterable[dict[str, Any]], lost: list) -> Iterator[dict[str, Any]]:
        """Run the payloads, at most two per worker submitted at a time, so that a worker's
        death fails only the few tasks in flight (those go to `lost`); the pool is rebuilt and
        the rest go on."""
        assert self.pool is not None
        queue = iter(payloads)
        futures: dict[Any, dict[str, Any]] = {}
        window = 2 * self.pool_workers

        def fill() -> bool:
            while len(futures) < window:
                payload = next(queue, None)
                if payload is None:
                    return True
                try:
                    futures[self.pool.submit(function, payload)] = payload
                except BrokenProcessPool:
                    lost.append(payload)
                    return False
            return True

        healthy = fill()
        while futures or not healthy:
            broken = not healthy
            if futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    payload = futures.pop(future)
                    try:
                        result = future.result()
                    except BrokenProcessPool:
                        broken = True
                        lost.append(payload)
                        continue
                    yield result
            if broken:
                lost.extend(futures.values())  # in flight when the worker died: failed with it
                futures.clear()
                self.pool.shutdown(wait=False, cancel_futures=True)
                self.pool = self._pool(self.pool_workers)
            healthy = fill()


class DaskExecutor:
    def __init__(self, workers: int, frameworks: tuple[str, ...], scheduler: str | None = None) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:
            raise ExecutorUnavailable(
                f"dask.distributed is not installed ({exc}): `pip install -c requirements/constraints.txt "
                "dask distributed`, or run without --dask/--scheduler (local worker processes)") from None
        self._client_class, self._cluster_class = Client, LocalCluster
        self.workers = workers
        self.frameworks = frameworks
        self.scheduler = scheduler
        self.cluster = None
        self.client = None
        self.description = (f"the Dask cluster at {scheduler}" if scheduler
                            else f"a Dask LocalCluster of {workers} single-threaded worker process(es)")

    def __enter__(self) -> "DaskExecutor":
        os.environ.update({k: v for k, v in SINGLE_THREAD.items() if k not in os.environ})
        try:
            if self.scheduler:
                self.client = self._client_class(self.scheduler, timeout="30s")
            else:
                self.cluster = self._cluster_class(n_workers=self.workers, threads_per_worker=1,
                                                   processes=True, dashboard_address=None,
                                                   silence_logs=40)
                self.client = self._client_class(self.cluster)
        except OSError as exc:
            raise ExecutorUnavailable(f"cannot reach the Dask scheduler {self.scheduler}: {exc}") from None
        return self

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def run(self, function: Task, payloads: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        from dask.distributed import as_completed as dask_completed

        assert self.client is not None
        futures, submitted = [], {}
        for payload in payloads:
            future = self.client.submit(function, payload, pure=False)
            futures.append(future)
            submitted[future.key] = payload
        for future in dask_completed(futures):
            yield self._result(future, submitted)
            future.release()  # the result is written down; the cluster may forget it

    def _result(self, future, futures) -> dict[str, Any]:
        payload = futures.get(future.key, {})
        try:
            return future.result()
        except Exception as exc:  # noqa: BLE001 (a task that failed on every worker it was given)
            return {"name": payload.get("name", ""), "key": payload.get("key"), "lost": True,
                    "error": f"the task failed on the cluster: {type(exc).__name__}: {exc}"}
