"""Random valid case files drawn from the registered layer kinds, activations, losses and
optimizers (`python -m harness generate`): cases.py draws whole cases, model.py fitting models,
options.py each spec's options from its schema; distribution.py states what is drawn how often."""

from harness.discovery.generate.cases import GeneratedCase, check_case, draw_case, focus_order, generate, to_yaml, write_case
from harness.discovery.generate.distribution import Distribution, parse_range

__all__ = ["Distribution", "GeneratedCase", "check_case", "draw_case", "focus_order", "generate",
           "parse_range", "to_yaml", "write_case"]
