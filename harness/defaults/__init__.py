"""The defaults audit: where frameworks' defaults disagree, read from the frameworks themselves.

Two uses:

* the table (`python -m harness defaults`, results.json's `defaults`, the report): for every
  hyper-parameter in harness/reference/defaults_catalogue.py, each installed framework's
  default, read by the readers its family modules register in REGISTRY.defaults (inspect.signature, get_config(), attributes; probes for meaning), with the
  rows that differ in value or meaning marked. `defaults_table()` returns it.
* `framework_default` in case files (schema.py): a field typed `Defaultable[T]` may ask each
  framework for its own default; adapters resolve it with the same readers (resolve.py) and
  record the value used, and the NumPy reference uses the value the case states.

Nothing in this package imports a framework: the readers live in the adapters.

To let a case leave another field to the frameworks (an LSTM's `recurrent_activation`):

1. type the field `Defaultable[float]` (schema.py) instead of `float`, keeping it required;
2. make sure catalogue.py has the key `<spec tag>.<field>` (e.g. `BatchNormalization.epsilon`;
   the tag is the spec's one-value Literal field: a layer's `type`, an activation's `name`);
3. in each framework's family module (`@REGISTRY.defaults.register(key)`), the reader for that key returns the framework's
   readings with exactly one `used=True`: the API that adapter's builder calls. Its `effective`
   must be a valid value of the field in the harness's meaning (torch's BatchNorm momentum 0.1 is
   effective 0.9 if the field means Keras' momentum); None, or `missing`, makes the adapter skip
   the case with the reading's explanation instead of building something else;
4. the builder needs no change: it receives the resolved spec (layers, losses and optimizers are
   resolved in FrameworkBackend; the reference resolves layers, losses and the optimizer with
   `resolve_for_reference`). A new kind of spec is resolved with `backend.resolve_defaults(spec)`,
   which returns the resolved spec and the `ResolvedDefault` records to put in results.json.
"""

from harness.defaults.reading import DefaultContext, Reading
from harness.defaults.resolve import (DefaultUnavailable, ResolvedDefault, resolve_for_framework,
                                      resolve_for_reference)
from harness.defaults.table import defaults_table
from harness.reference.defaultable import Defaultable, FrameworkDefault
from harness.reference.defaults_catalogue import CONCEPTS, Concept

__all__ = ["CONCEPTS", "Concept", "DefaultContext", "DefaultUnavailable", "Defaultable",
           "FrameworkDefault", "Reading", "ResolvedDefault", "defaults_table",
           "resolve_for_framework", "resolve_for_reference"]
