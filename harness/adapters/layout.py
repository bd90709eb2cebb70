"""Weight layout transforms between the canonical layout and a framework's own.

Each transform carries its description, so the report's weight-mapping table says exactly what
was done to each tensor ("transposed (in, out) -> (out, in)"), and its inverse, so gradients
and trained values come back in the canonical layout. Round trips are tested per adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Transform:
    description: str
    to_native: Callable[[np.ndarray], np.ndarray]
    from_native: Callable[[np.ndarray], np.ndarray]

    def then(self, other: "Transform") -> "Transform":
        """Apply self, then other (towards the native layout)."""
        return Transform(
            f"{self.description}, then {other.description}",
            lambda a: other.to_native(self.to_native(a)),
            lambda a: self.from_native(other.from_native(a)),
        )


AS_IS = Transform("as is", lambda a: a, lambda a: a)


def transpose(*axes: int, description: str | None = None) -> Transform:
    """Permute axes; the default description names the permutation."""
    inverse = tuple(int(i) for i in np.argsort(axes))
    text = description or f"transposed, axes {axes}"
    return Transform(text, lambda a: np.ascontiguousarray(np.transpose(a, axes)),
                     lambda a: np.ascontiguousarray(np.transpose(a, inverse)))


DENSE_KERNEL_TO_OUT_IN = transpose(1, 0, description="transposed: (in, out) -> (out, in)")
