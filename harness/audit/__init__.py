"""Audits of a case as a whole: how strong it is (which injected faults it would catch).

Above the checks, which it runs on transformed cases, and below the report that shows it.
"""
