"""Ports are isolated (issue 26): a Python port runs in a worker process, so its segfault, exit or
endless loop is that port's `error` while the other backends and cases are still run and
reported, and the next case gets a fresh worker; a command port runs in a process group of its
own that is killed whole, so a grandchild does not survive its timeout."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from harness.weights import cases_from_data
from harness.entry.cli import main
from harness.ports.command_line import parse_ports
from harness.checks.runner import ERROR, PASS, run_case
from tests.test_ports import ONE_DENSE, PORTS


def port_case(function: str, timeout: float = 60):
    case = cases_from_data(ONE_DENSE)[0]
    return case.with_ports(parse_ports([f"{function}=crashing_ports.py:{function},timeout={timeout}"], PORTS))


ENDINGS = {
    # function: what the error says (how the worker ended, and what it printed)
    "segfault": ["its worker process was killed by signal SIGSEGV (a crash in native code)",
                 "about to read address 0", 'crashing_ports.py", line 18 in segfault'],
    "exits_3": ["the function raised SystemExit: 3", "sys.exit(3)"],
    "exits_0": ["its worker process exited with status 0 before it returned", "leaving with status 0"],
    "endless": ["did not return within 2 s (the port's `timeout`); its worker process was stopped",
                'crashing_ports.py", line 32 in endless'],  # its stack, asked for before the kill
}


@pytest.mark.parametrize("function", list(ENDINGS))
def test_a_port_that_ends_or_stalls_its_process_is_its_error_and_the_rest_runs(function):
    started = time.perf_counter()
    report = run_case(port_case(function, timeout=2), ["numpy"])
    outcome = report.outcomes[function]
    assert outcome.status == ERROR
    for text in ENDINGS[function]:
        assert text in outcome.reason, outcome.reason
    assert {r.verdict for r in report.checks if r.framework == "numpy"} == {PASS}, "the others still run"
    assert time.perf_counter() - started < 30  # the timeout, the stack's half second, a restart


def worker_call(function: str):
    from harness.common.worker_process import worker_for

    path = (PORTS / "crashing_ports.py").resolve()
    return worker_for(path).request({"op": "call", "path": str(path), "function": function, "args": (),
                                     "kwargs": {}}, timeout=30)["value"]


def test_one_worker_per_file_and_a_fresh_one_after_a_crash():
    first = worker_call("worker_pid")
    assert run_case(port_case("right"), ["numpy"]).outcomes["right"].status != ERROR
    assert worker_call("worker_pid") == first, "one worker per file for the run: imported once, not per case"
    assert first != os.getpid()
    assert run_case(port_case("exits_0"), ["numpy"]).outcomes["exits_0"].status == ERROR
    after = run_case(port_case("right"), ["numpy"]).outcomes["right"]
    assert after.status != ERROR, after.reason
    assert worker_call("worker_pid") != first


def test_a_crashing_port_on_the_command_line_still_writes_the_report_and_fails(tmp_path, capsys):
    """os._exit(0) in a port used to end `harness run` with status 0 and no report."""
    case = tmp_path / "one.yaml"
    case.write_text("name: one_dense\nsamples: 8\ndtype: float32\ninputs: {x: {shape: [3], data: {normal: {}}}}\n"
                    "targets: {t: {shape: [2], data: {normal: {}}}}\n"
                    "model: {sequential: [{type: Dense, name: dense, units: 2, activation: tanh}]}\n"
                    "weights: {seed: 1}\nloss: {type: mean_squared_error, reduction: mean}\nchecks: [forward]\n")
    status = main(["run", str(case), "--frameworks", "numpy", "--out", str(tmp_path / "out"),
                   "--port", f"gone={PORTS / 'crashing_ports.py'}:exits_0"])
    assert status == 1
    assert "exited with status 0 before it returned" in capsys.readouterr().out
    assert (tmp_path / "out" / "results.json").is_file()


def test_the_worker_imports_the_harness_the_run_imported():
    """The worker gets this process's sys.path, the harness's own directory first: under
    `python -I`, or from another working directory, it imports the same harness as the run."""
    import harness

    assert worker_call("harness_file") == harness.__file__


def test_a_python_port_timeout_is_validated_like_the_command_ports():
    from harness.common.errors import CaseError

    with pytest.raises(CaseError, match="timeout"):
        parse_ports(["p=crashing_ports.py:right,timeout=-1"], PORTS)
    assert parse_ports(["p=crashing_ports.py:right"], PORTS)[0].spec.timeout == 60


def _alive(pid: int) -> bool:
    """A process that exists and is not a zombie (a container's init may reap late)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("ending", ["timeout", "exit"])
def test_a_command_ports_grandchild_does_not_outlive_it(tmp_path, ending):
    """The script starts `sleep 1000 &` and writes its pid (the marker); then it either runs past
    the port's timeout or exits at once. Either way the background sleep must be gone."""
    marker = tmp_path / "grandchild.pid"
    script = tmp_path / "spawns.sh"
    script.write_text(f"#!/bin/sh\nsleep 1000 &\necho $! > {marker}\n"
                      + ("sleep 1000\n" if ending == "timeout" else "exit 0\n"))
    script.chmod(0o755)
    data = {**ONE_DENSE, "ports": [{"name": "spawns", "command": [str(script)], "timeout": 2}]}
    case = cases_from_data(data, file=str(tmp_path / "memory.yaml"))[0]
    report = run_case(case, ["numpy"])
    assert report.outcomes["spawns"].status == ERROR
    expected = "did not finish in 2 s" if ending == "timeout" else "its command wrote no outputs file"
    assert expected in report.outcomes["spawns"].reason
    pid = int(marker.read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), f"the grandchild sleep {pid} survived its port"
