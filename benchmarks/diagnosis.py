"""Diagnosis hints on the shipped cases: share named and search time, one injected fault each.

For every shipped case and every variant its own checks detect (harness/audit/strength.py),
a "port" with that fault: the NumPy reference code run in the case's dtype (the `numpy`
backend's computation) on the case under the variant. The runner then judges it as it judges
any backend, and the diagnosis must name a transform at the same place whose reference matches.
Counted: named exactly (the injected transform and site), named another variant that matches
every tensor (an equivalent meaning on this case, e.g. epsilon 1e-5 vs 2e-5 within float32
tolerance), no hint. Timed: each failed check's search (the frameworks' defaults table read
beforehand, once per process).

    python benchmarks/diagnosis.py [CASES...] [--limit N]   (N variants per case, default all)

The tests (tests/test_diagnosis.py) inject faults by hand into torch instead; this measures
coverage and cost across the shipped cases.
"""

from __future__ import annotations

import argparse
import warnings
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
warnings.simplefilter("ignore")  # a transformed meaning may take the log of a logit: NaN, quietly

import numpy as np  # noqa: E402

from harness.weights import load_cases
from harness.backends.numpy_reference import run_reference  # noqa: E402
from harness.checks.runner import COMPARED_CHECKS, FAIL, CaseRunner, FrameworkOutcome  # noqa: E402
from harness.diagnosis.base import transformed_edit  # noqa: E402
from harness.diagnosis.hints import TIME_BUDGET_S, default_context  # noqa: E402
from harness.audit.strength import case_strength  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=["cases"])
    parser.add_argument("--limit", type=int, default=0, help="variants per case (0: all detected ones)")
    options = parser.parse_args()
    started = time.perf_counter()
    context = default_context()
    print(f"defaults table read in {time.perf_counter() - started:.1f} s; bound: single variants, groups, pairs, "
          f"{TIME_BUDGET_S:g} s per failed check")
    exact = equivalent = missed = 0
    searches: list[float] = []
    for case in load_cases(options.cases):
        detected = [o.variant for o in case_strength(case, context).outcomes if o.detected]
        if options.limit:
            detected = detected[:options.limit]
        for variant in detected:
            edit = transformed_edit(case, [variant])
            with np.errstate(all="ignore"):
                wrong = run_reference(edit.case(), case.spec.dtype, framework="port")
            for name, view in edit.gradient_views.items():  # the port reports the case's shapes
                wrong.parameter_gradients[name] = view(wrong.parameter_gradients[name])
            runner = CaseRunner(case)
            # Judged as the `numpy` backend (the same computation): the runner reads a backend's
            # own tolerances by its name, and "port" names none.
            runner._outcomes["numpy"] = FrameworkOutcome("numpy", result=wrong)
            failed = [c for c in (runner.check("numpy", check) for check in runner.checks()
                                  if check in COMPARED_CHECKS) if c.verdict == FAIL]
            for check in failed:
                searches.append(runner._diagnoser.last.seconds if runner._diagnoser else 0.0)
                named = check.hint["transforms"] if check.hint else []
                if len(named) == 1 and named[0]["transform"] == variant.transform.name \
                        and named[0]["site"] == variant.site.where() and named[0]["choice"] == variant.choice:
                    exact += 1
                elif named:
                    equivalent += 1
                else:
                    missed += 1
                    print(f"  no hint: {case.id} {check.check}: {variant.describe()}")
    total = exact + equivalent + missed
    print(f"failed checks with an injected fault: {total}; named exactly {exact} ({100 * exact / max(total, 1):.1f}%), "
          f"an equivalent variant {equivalent}, no hint {missed}")
    if searches:
        print(f"search time per failed check: median {1000 * statistics.median(searches):.1f} ms, "
              f"max {max(searches):.2f} s, total {sum(searches):.1f} s")
    print(f"wall time {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
