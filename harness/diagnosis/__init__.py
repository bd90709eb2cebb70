"""The catalogue of semantic transforms (base.py; registered by layer_transforms.py and
function_transforms.py, gathered by catalogue.py) and its uses: diagnosis hints (hints.py),
backward localisation (backward.py), the per-gate table (gate_table.py), branch coverage
(coverage.py), the catalogue listing (`python -m harness transforms`). Importing this package
registers every transform.
"""

from harness.diagnosis.base import TRANSFORMS, Context, Edit, Site, Transform, Variant, transformed_case
from harness.diagnosis.catalogue import applicable_variants

__all__ = ["TRANSFORMS", "Context", "Edit", "Site", "Transform", "Variant", "applicable_variants",
           "transformed_case"]
