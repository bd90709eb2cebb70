"""The one exception a port's run raises (its own module so the port kinds can import it without
the package's __init__, which imports them)."""


class PortError(Exception):
    """A port that could not be run or returned something unusable: the message names the port,
    the case, what was expected and what was found (its traceback or stderr follow it). The
    runner reports it as that port's `error`, without the harness's own traceback."""
