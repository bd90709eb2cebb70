"""`python -m harness show CASE`: a model summary in the manner of Keras' model.summary()."""

from __future__ import annotations

import math

from harness.case import Case


def parameter_count(case: Case, layer: str) -> int:
    return sum(math.prod(shape) for shape in case.graph.parameters_of(layer).values())


def summary_rows(case: Case) -> list[tuple[str, str, str, str]]:
    """(layer (type), output shape, parameters, connected to) per input and node."""
    rows = [(f"{name} (Input)", _shape(shape), "0", "") for name, shape in case.graph.inputs.items()]
    counted: set[str] = set()
    for node in case.graph.nodes:
        kind = node.spec.type + (f", reuses {node.layer}" if node.reused else "")
        count = 0 if node.layer in counted else parameter_count(case, node.layer)
        counted.add(node.layer)
        rows.append((f"{node.name} ({kind})", _shape(node.output_shape), f"{count:,}",
                     ", ".join(node.inputs)))
    return rows


def render_summary(case: Case) -> str:
    header = ("Layer (type)", "Output Shape", "Param #", "Connected to")
    rows = summary_rows(case)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    line = "+-" + "-+-".join("-" * w for w in widths) + "-+"

    def fmt(row):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]),
                 row[3].ljust(widths[3])]
        return "| " + " | ".join(cells) + " |"

    total = sum(parameter_count(case, layer) for layer in case.graph.layers)
    trainable = sum(math.prod(case.graph.parameter_shapes[name]) for name in case.trainable_parameters())
    out = [f'Model: "{case.id}"  ({case.spec.dtype}, batch {case.dataset.samples})', line, fmt(header),
           line.replace("-", "=")]
    out.extend(fmt(row) for row in rows)
    out.append(line)
    out.append(f" Total params: {total:,}")
    out.append(f" Trainable params: {trainable:,}")
    out.append(f" Non-trainable params: {total - trainable:,}")
    out.append("")
    out.append(" Parameters (canonical layout, initializer):")
    for name, shape in case.graph.parameter_shapes.items():
        out.append(f"   {name:<32} {str(list(shape)):<16} {case.initializer_descriptions.get(name, '')}")
    out.append(" Losses: " + "; ".join(
        f"{loss.describe()} on {case.loss_output(loss)} vs {case.loss_target(loss)}" for loss in case.losses))
    if case.spec.training is not None:
        training = case.spec.training
        out.append(f" Training: {case.spec.optimizer.describe()}, {training.steps} steps of batch "
                   f"{training.batch_size}")
    return "\n".join(out)


def _shape(shape) -> str:
    return "(None, " + ", ".join(str(s) for s in shape) + ")" if shape else "(None,)"
