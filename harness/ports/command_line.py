"""`--port` on the command line (`python -m harness run` and pytest): a port added to every case
run, without editing the case files. Paths are relative to the working directory.

    --port NAME=FILE.py:FUNCTION                         a Python function, canonical weights
    --port NAME=FILE.py:FUNCTION,weights_as=keras,dtype=float64   the same with options
    --port 'NAME=command:./my_port {inputs} {weights} {outputs}'  an external program
    --port '{name: NAME, command: [...], build: [...], timeout: 10}'  any port, as in a case file
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from harness.case.loader import to_plain
from harness.case.schema import PortField
from harness.common.errors import CaseError
from harness.case.port import Port

FORMS = ("NAME=FILE.py:FUNCTION[,weights_as=canonical|keras|torch|chainer][,dtype=float32|float64], "
         "'NAME=command:PROGRAM ARGS...' or a YAML mapping such as '{name: NAME, python: FILE.py:FUNCTION}'")
OPTIONS = {"weights_as": str, "dtype": str, "timeout": float, "description": str}


def parse_ports(texts: list[str] | None, directory: Path | None = None) -> list[Port]:
    """Every --port given, validated like a case file's `ports` entry."""
    directory = directory or Path.cwd()
    ports, names = [], set()
    for text in texts or []:
        port = Port(spec=_validate(_mapping(text), text), directory=directory, origin="--port")
        if port.name in names:
            raise CaseError(f"port name {port.name!r} is given twice", field="--port", found=text)
        names.add(port.name)
        ports.append(port)
    return ports


def _mapping(text: str) -> dict[str, Any]:
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = to_plain(YAML(typ="rt").load(stripped))
        except YAMLError as exc:
            raise CaseError(f"invalid YAML: {str(exc).splitlines()[0]}", field="--port", expected=FORMS,
                            found=text) from None
        if not isinstance(data, dict):
            raise CaseError("not a mapping", field="--port", expected=FORMS, found=text)
        return data
    name, sep, source = stripped.partition("=")
    if not sep or not name or not source:
        raise CaseError("cannot read this port", field="--port", expected=FORMS, found=text)
    if source.startswith("command:"):
        return {"name": name, "command": shlex.split(source[len("command:"):])}
    python, *options = source.split(",")
    data: dict[str, Any] = {"name": name, "python": python}
    for option in options:
        key, sep, value = option.partition("=")
        if not sep or key not in OPTIONS:
            raise CaseError(f"unknown port option {option!r}", field="--port",
                            expected="key=value with key one of " + ", ".join(OPTIONS), found=text)
        try:
            data[key] = OPTIONS[key](value)
        except ValueError:
            raise CaseError(f"option {key} is not a {OPTIONS[key].__name__}", field="--port", found=text) from None
    return data


def _validate(data: dict[str, Any], text: str) -> Any:
    try:
        return TypeAdapter(PortField).validate_python(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in error["loc"] if part not in ("python_port", "command_port"))
        raise CaseError(f"{where + ': ' if where else ''}{error['msg']}", field="--port", expected=FORMS,
                        found=text) from None
