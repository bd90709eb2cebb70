"""The expression language computes and nothing else: every hostile family the issue-26 probe
used is refused by name before it runs, and the shipped expressions keep their values."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from harness.weights import load_cases
from harness.case.expression import ExpressionRefused, allowed_names, evaluate
from harness.common.errors import CaseError

X = np.linspace(-1.0, 1.0, 12).reshape(4, 3)


def refused(expression: str, **scope) -> str:
    with pytest.raises(ExpressionRefused) as info:
        evaluate(expression, {"x": X, **scope}, np.random.default_rng(0))
    return str(info.value)


@pytest.fixture
def no_network(monkeypatch):
    """Any connection attempt fails the test: refusal must come before any I/O."""
    attempts = []

    def connect(self, address):
        attempts.append(address)
        raise AssertionError(f"an expression opened a connection to {address}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connect(None, a))
    return attempts


@pytest.mark.parametrize("reader", ["loadtxt", "genfromtxt", "fromfile", "load", "fromregex"])
def test_file_readers_are_refused_and_the_file_never_appears(tmp_path, reader):
    secret = tmp_path / "secret.txt"
    secret.write_text("MARKER-1234\n")
    for expression in (f"{reader}({str(secret)!r})", f"{reader}(x)", f"x.{reader}()"):
        message = refused(expression)
        assert "MARKER-1234" not in message
        assert reader in message  # the refusal names the function


def test_url_is_refused_before_any_io(no_network, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for expression in ("loadtxt('http://127.0.0.1:9/')", "genfromtxt('http://127.0.0.1:9/x')",
                       "DataSource().open('http://127.0.0.1:9/')"):
        refused(expression)
    assert no_network == [] and list(tmp_path.iterdir()) == []  # nothing cached into cwd


@pytest.mark.parametrize("expression", ["x.tofile('out.bin')", "x.dump('out.pkl')", "save('out', x)",
                                        "savetxt('argparse.py', x)", "x.tofile(x)", "x.dump(x)"])
def test_writers_are_refused_and_nothing_is_written(tmp_path, monkeypatch, expression):
    monkeypatch.chdir(tmp_path)
    message = refused(expression)
    assert "tofile" in message or "dump" in message or "save" in message or "literal" in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("expression", ["ndarray((2,), dtype='O', buffer=ones(2))",
                                        "ndarray((2,), object, ones(2))", "frombuffer(ones(2))",
                                        "x.view(int64)", "x.astype('O')", "zeros(2, dtype='object')",
                                        "lib.stride_tricks.as_strided(x, (10**6,), (0,))"])
def test_raw_memory_and_object_arrays_are_refused(expression):
    refused(expression)  # the probe's first one segfaulted the process


def test_object_results_are_refused():
    assert "numbers only" in refused("concatenate([[None]])")


@pytest.mark.parametrize("expression", ["seterr(all='ignore')", "seterr(all=None)", "set_printoptions(0)",
                                        "random.seed(0)", "x.setflags(write=False)"])
def test_process_state_is_out_of_reach(expression):
    before = np.geterr()
    refused(expression)
    assert np.geterr() == before


@pytest.mark.parametrize("expression, family", [
    ("convolve(ones(400000), ones(400000))", "convolve"),
    ("matmul(ones((2000, 2000)), ones((2000, 2000)))", "matmul"),
    ("ones((2000, 2000)) @ ones((2000, 2000))", "@"),
    ("factorial(10**6)", "factorial"),
    ("10**10**6", "**"),
    ("2**10000", "**"),
    ("arange(10**12)", "arange"),
])
def test_long_runs_are_refused_quickly(expression, family):
    started = time.perf_counter()
    message = refused(expression)
    assert family in message
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("expression", ["ones((15000, 15000))", "zeros(10**12)", "full((10**6, 10**6), 1.0)",
                                        "ones((1, 20000)) + ones((20000, 1))", "tile(x, (10**5, 10**3))",
                                        "repeat(x, 10**9)", "uniform(0.0, 1.0, (10**5, 10**5))",
                                        "outer(ones(10**5), ones(10**5))", "eye(10**6)",
                                        "broadcast_to(x, (10**8, 4, 3))", "linspace(0, 1, 10**10)"])
def test_large_arrays_are_refused_before_allocation(expression):
    started = time.perf_counter()
    assert "elements" in refused(expression)
    assert time.perf_counter() - started < 1.0  # nothing of that size was made


def test_the_element_limit_can_be_raised(monkeypatch):
    monkeypatch.setenv("HARNESS_MAX_ELEMENTS", "100")
    refused("ones((11, 10))")
    assert evaluate("ones((10, 10))", {}).shape == (10, 10)


@pytest.mark.parametrize("expression", [
    "x.__class__", "x.__array_interface__", "().__class__.__bases__[0].__subclasses__()",
    "x.ctypes", "x.base", "x.data", "x.tolist()", "__import__('os')", "getattr(x, 'T')",
    "eval('1')", "lambda: 1", "[v for v in x]", "x if 1 else x", "x and x", "(y := x)",
    "exp", "x[zeros(10**6, int64)]", "x[[0, 0, 0]]", "[1] * 10**9", "(1, 2) + (3,)",
    "exp(x, out=x)", "exp(*[x])", "sum(x, **{'axis': 0})", "1 < x < 2", "f'{x}'", "1j * x",
    "np.exp(x)", "numpy.exp(x)", "'a'",
])
def test_everything_outside_the_language_is_refused(expression):
    refused(expression)


def test_inputs_are_not_changed_in_place():
    scope = {"x": X.copy()}
    with pytest.raises(ExpressionRefused):
        evaluate("exp(x, out=x)", scope)
    assert np.array_equal(scope["x"], X)


@pytest.mark.parametrize("expression", [
    "exp(x)", "x.mean(axis=(1,))[:, None]", "cumsum(x[:, :2], axis=1)", "sin(x[:, :1]) + 0.5 * x[:, 1:2]",
    "where(x.sum(axis=-1, keepdims=True) > 0.5, 1.0, -1.0)", "tanh(x[:, 0:1] - x[:, -1, None])",
    "x.astype(float32)", "clip(x, -0.5, 0.5)", "concatenate([x, -x], axis=1)", "stack([x, x]).T",
    "x.reshape(2, 6)", "x.shape[0] * ones((4, 1))", "(x > 0) & (x < 0.5)", "x ** 2 / 3 // 1 % 2",
    "maximum(x, 0.0) @ ones((3, 2))", "x[..., ::-1]", "pi * e + inf - inf", "abs(-x).max()",
])
def test_plain_array_expressions_agree_with_numpy(expression):
    expected = eval(expression, {**{name: getattr(np, name) for name in dir(np)}, "x": X})
    np.testing.assert_array_equal(evaluate(expression, {"x": X}), expected)


def test_seeded_draws_match_the_generator():
    got = evaluate("concatenate([[[0.80247033]], uniform(0.0, 1.0, (4, 1))])", {}, np.random.default_rng(7))
    expected = np.concatenate([[[0.80247033]], np.random.default_rng(7).uniform(0.0, 1.0, (4, 1))])
    np.testing.assert_array_equal(got, expected)


def test_a_refusal_is_a_case_error_with_file_line_field_and_function(tmp_path):
    path = tmp_path / "case.yaml"
    path.write_text(
        "name: tiny\ninputs:\n  x: {shape: [2], data: {uniform: {low: 0.0, high: 1.0}}}\n"
        "targets:\n  t: {data: {expression: \"loadtxt('/etc/hostname')\"}}\nsamples: 4\n"
        "model:\n  sequential:\n    - {type: Dense, units: 1}\nloss: {type: mean_squared_error, reduction: mean}\n")
    with pytest.raises(CaseError) as info:
        load_cases([path])
    text = info.value.render()
    assert f"{path}:5: targets.t.data" in text and "loadtxt" in text and "docs/security.md" in text


def test_the_security_page_lists_exactly_the_allowed_names():
    page = (Path(__file__).parents[1] / "docs" / "security.md").read_text()
    for kind, names in allowed_names().items():
        line = next(line for line in page.splitlines() if line.startswith(f"- **{kind}**"))
        assert re.findall(r"`([^`]+)`", line) == names, kind
