"""The whole catalogue of transforms, registered, and the search's first step: every variant of
every transform that applies to a case.

base.py defines what a transform is; layer_transforms.py, function_transforms.py and
state_transforms.py register the transforms; importing this module imports them all, so whoever
asks for variants gets them all.
"""

from __future__ import annotations

from typing import Any

from harness.diagnosis import function_transforms, layer_transforms, state_transforms  # noqa: F401  (registration)
from harness.diagnosis.base import TRANSFORMS, Context, Edit, Variant, sites


def applicable_variants(case: Any, context: Context) -> list[Variant]:
    """Every variant of every registered transform at every site of the case."""
    edit = Edit(case)
    found = []
    for site in sites(case):
        for transform in TRANSFORMS.for_site(site):
            found.extend(transform.variants(site, edit, context))
    return found
