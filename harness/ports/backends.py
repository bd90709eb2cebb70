"""The Backend that runs a declared port: a Python function in a worker process, or a command."""

from __future__ import annotations

from harness.case.port import Port
from harness.ports.command_port import CommandPortBackend
from harness.ports.python_port import PythonPortBackend


def port_backend(port: Port):
    """The Backend that runs this port."""
    if port.kind == "python":
        return PythonPortBackend(port)
    return CommandPortBackend(port)
