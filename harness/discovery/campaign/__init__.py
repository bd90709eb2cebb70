"""Campaigns: generate -> run -> shrink -> deduplicate -> report, locally or on Dask (run.py)."""
