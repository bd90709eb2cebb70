"""A chainer Chain with its own forward, read from one recorded forward pass, in the case's graph form.

chainer builds its computational graph as it runs (define-by-run): every Variable a function
returns keeps its `creator_node`, a FunctionNode holding its input VariableNodes
(chainer/function_node.py `FunctionNode.apply`, chainer/variable.py `VariableNode.creator_node`).
So the forward is run once, on zeros of the given input shapes (a batch of 2, so that a reshape
across the batch axis shows), inference mode, with a LinkHook (chainer/link_hook.py) recording
every link call: its link, arguments and output. The graph is then walked back from the
outputs:

* a Variable that a link with an import translation returned is that link's case layer, named
  by the link's path in the chain (`block/conv` -> `block_conv`), reading the layer(s) that made
  its arguments; the functions inside the link's call are the link's own business. A second call
  of the same link is a Reuse node.
* a link registered `per_step` (L.LSTM, which keeps its state between calls,
  chainer/links/rnn/lstm.py) is a recurrent layer when its calls step over `x[:, t]`, t = 0 .. T-1
  of one sequence, from a reset state; its last output is the layer's.
* any other Variable is its creator FunctionNode's, translated by the registration for the
  node's class (ReLU, Tanh, Sigmoid, Reshape, Add, Concat: in core.py, reshaping.py, merge.py).

Every problem is listed, not the first only: a link without translation, a function without one,
a parameter used outside its link, a constant array in the forward, a layer whose case output
shape is not chainer's. Functions that leave no node in inference (F.dropout returns its input
when chainer.config.train is False) do not appear in the case.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.backends.chainer._import import chainer
from harness.backends.chainer.registry import IMPORT_TRANSLATIONS
from harness.case.imported_model import ImportProblem
from harness.reference.layers import LAYERS

TRACE_BATCH = 2
"""Two samples: a reshape that mixes the batch axis with the others changes the shape seen."""

GetItem = chainer.functions.array.get_item.GetItem


@dataclass
class LinkCall:
    link: Any
    args: tuple
    kwargs: dict
    out: Any = None
    fresh_state: bool = True
    """For a per-step link: it held no state (h is None) when called."""


class CallRecorder(chainer.LinkHook):
    """Every link call of one forward, in order (chainer calls the hook around `Link.__call__`)."""

    name = "harness_import_trace"

    def __init__(self):
        self.calls: list[LinkCall] = []
        self.open: list[LinkCall] = []

    def forward_preprocess(self, args):
        call = LinkCall(args.link, tuple(args.args), dict(args.kwargs),
                        fresh_state=getattr(args.link, "h", None) is None)
        self.calls.append(call)
        self.open.append(call)

    def forward_postprocess(self, args):
        self.open.pop().out = args.out


def input_names(chain, count: int) -> list[str]:
    """The forward's own parameter names, where they are `count` plain ones; else x, x1, ..."""
    try:
        parameters = [p for p in inspect.signature(chain.forward).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        parameters = []
    if len(parameters) == count:
        return [p.name for p in parameters]
    return ["x" if index == 0 else f"x{index}" for index in range(count)]


def record(chain, shapes: list[tuple[int, ...]], dtype: str):
    """One forward on zeros: (input variables, the returned variables, the link calls, the input dtype).
    Tried with floats, then int32 (an EmbedID first reads indices)."""
    failure = None
    for input_dtype in (dtype, "int32"):
        recorder = CallRecorder()
        inputs = [chainer.Variable(np.zeros((TRACE_BATCH, *shape), dtype=input_dtype),
                                   requires_grad=input_dtype != "int32") for shape in shapes]
        try:
            with chainer.using_config("train", False), chainer.using_config("enable_backprop", True), recorder:
                result = chain(*inputs)
        except Exception as exc:  # the user's forward: any error is the trace's problem
            failure = failure or f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            continue
        outputs = list(result) if isinstance(result, (tuple, list)) else [result]
        return inputs, outputs, recorder.calls, input_dtype, None
    return [], [], [], dtype, failure


@dataclass
class Walk:
    """The graph walk's state: case nodes in the order they run, and the problems found."""

    chain: Any
    calls: list[LinkCall]
    inputs: dict[int, str]
    """id(VariableNode) of each input -> its name."""
    layers: list[dict] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)
    """id(VariableNode) -> the case node that computes it."""
    taken: set[str] = field(default_factory=set)
    emitted_links: dict[int, str] = field(default_factory=dict)
    linked: dict[str, Any] = field(default_factory=dict)
    """Case layer name -> the link whose parameters it holds (for the weights file)."""

    def __post_init__(self):
        self.link_paths = {id(link): path.lstrip("/").replace("/", "_")
                           for path, link in self.chain.namedlinks(skipself=True)}
        self.parameters = {id(parameter.node): path for path, parameter in self.chain.namedparams()}
        self.produced_by: dict[int, list[LinkCall]] = {}
        for call in self.calls:  # outermost call first: a sub-chain's output is also its last link's
            for variable in _variables(call.out):
                self.produced_by.setdefault(id(variable.node), []).append(call)
        self.taken.update(self.inputs.values())
        self.taken.update(self.link_paths.values())

    def unique(self, name: str) -> str:
        candidate, count = name, 1
        while candidate in self.taken:
            candidate, count = f"{name}_{count}", count + 1
        self.taken.add(candidate)
        return candidate

    def problem(self, layer: str, kind: str, reason: str) -> None:
        self.problems.append(ImportProblem(layer, kind, reason))

    def name_of(self, node) -> str:
        """The case node computing this VariableNode, emitting it (and what it reads) first."""
        key = id(node)
        if key in self.names:
            return self.names[key]
        if key in self.inputs:
            return self.inputs[key]
        if key in self.parameters:
            name = self.parameters[key].lstrip("/")
            self.problem(name, "Parameter", "a parameter used outside its link's call: the case's layers own "
                                            "their parameters")
            self.names[key] = name
            return name
        call = next((c for c in self.produced_by.get(key, []) if type(c.link) in IMPORT_TRANSLATIONS), None)
        if call is not None:
            name = self.link_layer(call, node)
        elif self.produced_by.get(key) and not isinstance(self.produced_by[key][-1].link, chainer.Chain):
            name = self.untranslated_link(self.produced_by[key][-1], node)
        elif node.creator_node is not None:
            name = self.function_layer(node.creator_node, node)
        else:
            name = self.unique("constant")
            self.problem(name, "array", f"an array of shape {node.shape} that is neither an input nor a "
                                        "parameter: the case cannot hold constants")
        self.names[key] = name
        return name

    def untranslated_link(self, call: LinkCall, node) -> str:
        name = self.link_paths.get(id(call.link), type(call.link).__name__)
        self.problem(name, type(call.link).__name__, "the importer has no translation for this link class")
        for variable in _variables(call.args):
            self.name_of(variable.node)
        return name  # a link's path is reserved for it (Walk.taken)

    def link_layer(self, call: LinkCall, node) -> str:
        link, kind = call.link, type(call.link).__name__
        name = self.link_paths.get(id(link), kind)
        if IMPORT_TRANSLATIONS.about[type(link)].get("per_step"):
            return self.stepped_layer(call, node, name)
        arguments = _variables(call.args)
        if call.kwargs or len(arguments) != len(call.args):
            self.problem(name, kind, "called with other arguments than variables "
                                     f"({', '.join(sorted(call.kwargs)) or 'a non-variable'}): the case's layer "
                                     "calls it on its input only")
        sources = [self.name_of(variable.node) for variable in arguments]
        if id(link) in self.emitted_links:
            reused = self.unique(f"{name}_again")
            self.layers.append({"name": reused, "type": "Reuse", "layer": self.emitted_links[id(link)],
                                "inputs": sources})
            return reused
        self.emitted_links[id(link)] = name
        self.linked[name] = link
        shape = tuple(arguments[0].shape[1:]) if arguments else ()
        return self.translated(link, kind, name, shape, [shape], sources, node)

    def stepped_layer(self, call: LinkCall, node, name: str) -> str:
        """A per-step link over `x[:, t]`: every call of the link, in order, must read step t
        of one sequence, the first from a fresh state, and only the last output be used."""
        kind = type(call.link).__name__
        steps = [c for c in self.calls if c.link is call.link]
        sequence, reason = _stepped_sequence(steps)
        if reason is None and steps[-1] is not call:
            reason = "a step's output other than the last one's is used"
        if reason is not None:
            self.problem(name, kind, f"a link that keeps its state between calls: {reason}; imported only as a loop "
                                     "`for t in range(T): h = link(x[:, t])` from reset_state()")
            for step in steps:
                for variable in _variables(step.args):
                    if not isinstance(variable.node.creator_node, GetItem):
                        self.name_of(variable.node)
            return name
        self.emitted_links[id(call.link)] = name
        self.linked[name] = call.link
        shape = tuple(sequence.shape[1:])
        return self.translated(call.link, kind, name, shape, [shape], [self.name_of(sequence)], node)

    def function_layer(self, function, node) -> str:
        label = getattr(function, "label", type(function).__name__)
        translation = IMPORT_TRANSLATIONS.get(type(function))
        sources = [self.name_of(variable_node) for variable_node in function.inputs]
        name = self.unique(type(function).__name__.lower())
        if translation is None:
            self.problem(name, label, "the importer has no translation for this function")
            return name
        shapes = [tuple(variable_node.shape[1:]) for variable_node in function.inputs]
        return self.translated(function, label, name, shapes, shapes, sources, node)

    def translated(self, native, kind: str, name: str, argument, shapes, sources: list[str], node) -> str:
        """Emit the translation's case layers (a Flatten may come before the layer), check the
        case's output shape against chainer's, and return the last layer's name. `argument` is
        what the translation takes: a link's the input's shape, a FunctionNode's every input's."""
        reasons: list[str] = []
        specs = IMPORT_TRANSLATIONS[type(native)](native, argument, reasons)
        shapes_now = shapes
        for index, spec in enumerate(specs):
            last = index == len(specs) - 1
            layer_name = name if last else self.unique(f"{name}_{spec['type'].lower()}")
            self.layers.append({"name": layer_name, **spec, "inputs": sources})
            sources = [layer_name]
            try:
                shapes_now = [tuple(LAYERS[spec["type"]].model_validate(spec).output_shape(shapes_now))]
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                reasons.append(str(exc).splitlines()[0])
                break
        else:
            if shapes_now[0] != tuple(node.shape[1:]):
                reasons.append(f"the case's layer gives shape {shapes_now[0]}, chainer's {tuple(node.shape[1:])}")
        for reason in reasons:
            self.problem(name, kind, reason)
        return sources[0]


def _variables(value) -> list:
    if isinstance(value, chainer.Variable):
        return [value]
    if isinstance(value, (tuple, list)):
        return [item for item in value if isinstance(item, chainer.Variable)]
    return []


def _stepped_sequence(steps: list[LinkCall]):
    """(the sequence's VariableNode, None) when the calls read x[:, 0], x[:, 1], ... x[:, T-1] of
    one sequence in order, from a fresh state; else (None, the reason)."""
    sources = []
    for t, step in enumerate(steps):
        arguments = _variables(step.args)
        function = arguments[0].node.creator_node if len(arguments) == 1 and not step.kwargs else None
        if not isinstance(function, GetItem) or not _is_step(function.slices, t):
            return None, f"call {t} does not read x[:, {t}] of a sequence"
        sources.append(function.inputs[0])
    if any(source is not sources[0] for source in sources):
        return None, "the calls read different sequences"
    if not steps[0].fresh_state or any(step.fresh_state for step in steps[1:]):
        return None, "its state is not reset before the first step only"
    if len(sources[0].shape) != 3 or sources[0].shape[1] != len(steps):
        return None, f"{len(steps)} steps over a sequence of shape {sources[0].shape}"
    return sources[0], None


def _is_step(slices, t: int) -> bool:
    slices = slices if isinstance(slices, tuple) else (slices,)
    full = slice(None, None, None)
    return len(slices) >= 2 and slices[0] == full and slices[1] == t and all(s == full or s is Ellipsis
                                                                            for s in slices[2:])


def trace(chain, class_name: str, shapes: list[tuple[int, ...]], dtype: str):
    """(input names, their dtype, case nodes, output names, problems, case layer -> link) of the
    chain's forward."""
    variables, outputs, calls, input_dtype, failure = record(chain, shapes, dtype)
    names = input_names(chain, len(shapes))
    if failure is not None:
        return names, dtype, [], [], [ImportProblem(class_name, type(chain).__name__,
                                                    f"its forward fails on zeros of shape(s) {shapes}: {failure}")], {}
    walk = Walk(chain, calls, {id(variable.node): name for variable, name in zip(variables, names)})
    output_names = []
    for output in outputs:
        if not isinstance(output, chainer.Variable):
            walk.problem(class_name, "output", f"returns {type(output).__name__}, not a chainer.Variable")
            continue
        output_names.append(walk.name_of(output.node))
    return names, input_dtype, walk.layers, output_names, walk.problems, walk.linked
