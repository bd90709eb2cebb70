"""The catalogue of semantic transforms (base.py) and its uses: diagnosis hints
(diagnosis.py), case strength (strength.py), the catalogue listing (`python -m harness
transforms`). Importing this package registers every transform.
"""

from harness.transforms import function_transforms, layer_transforms  # noqa: F401
from harness.transforms.base import (TRANSFORMS, Context, Edit, Site, Transform, Variant, applicable_variants,
                                     transformed_case)

__all__ = ["TRANSFORMS", "Context", "Edit", "Site", "Transform", "Variant", "applicable_variants",
           "transformed_case"]
