"""Ports that end or stall their own process, for tests/test_port_isolation.py: each must be
that port's `error` while the other backends and cases are still run and reported."""

import ctypes
import os
import sys
import time

import numpy as np


def right(inputs, weights):
    return np.tanh(inputs["x"] @ weights["dense/kernel"] + weights["dense/bias"])


def segfault(inputs, weights):
    print("about to read address 0", file=sys.stderr)
    ctypes.string_at(0)  # reads address 0: SIGSEGV in native code


def exits_3(inputs, weights):
    sys.exit(3)


def exits_0(inputs, weights):
    print("leaving with status 0", file=sys.stderr, flush=True)
    os._exit(0)


def endless(inputs, weights):
    while True:
        time.sleep(0.01)


def worker_pid(*arguments):
    """The worker's process id: a fresh worker has another."""
    return os.getpid()


def harness_file(*arguments):
    """Where the worker imported the harness from."""
    import harness

    return harness.__file__
