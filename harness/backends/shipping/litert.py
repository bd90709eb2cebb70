"""LiteRT (TensorFlow Lite): the Keras adapter's model converted to a .tflite flatbuffer.

The Keras adapter's layers (built and loaded as its run loop builds them) are traced into one
tf.function over the case's inputs (a fixed batch of the case's samples) that returns every
node's output; TFLiteConverter.from_concrete_functions converts it with the builtin operators
only, in float32, with no optimization (no quantization, no float16 weights): what
`tf.lite.TFLiteConverter` writes by default. A case may ask for float16 weights
(`export.tflite.float16_weights`: Optimize.DEFAULT with supported_types [float16], the weights
stored in float16 and dequantized to float32 at load) with tolerances of its own. The flatbuffer runs in LiteRT's interpreter
(`ai_edge_litert.interpreter`, the package Google ships the runtime in since TF 2.16), or in
`tf.lite.Interpreter` where ai-edge-litert is not installed (the version says which).

Intermediates: every layer's output is an output of the converted function, so the interpreter
returns it as it returns the model's outputs (`experimental_preserve_all_tensors` would expose
the converter's own tensors, which are named after TF ops, not after the case's layers).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np

from harness.backends.base import ExecutionPath, Unsupported
from harness.backends.keras import KerasBackend
from harness.backends.keras import paths as keras_paths
from harness.backends.keras._import import keras, tf
from harness.backends.shipping import Artifact, ShippingBackend, first_lines, native_stderr
from harness.case import Case
from harness.common.compare import DEFAULT_TOLERANCES

try:
    from ai_edge_litert import interpreter as litert_interpreter
    from ai_edge_litert import __version__ as LITERT_VERSION  # type: ignore[attr-defined]
    Interpreter = litert_interpreter.Interpreter
    RUNTIME = f"ai-edge-litert {LITERT_VERSION}"
except ImportError:  # tf.lite's interpreter is the same runtime, bundled with TensorFlow
    Interpreter = tf.lite.Interpreter
    RUNTIME = f"tf.lite.Interpreter of tensorflow {tf.__version__} (ai-edge-litert is not installed)"


class LiteRTBackend(ShippingBackend):
    name: ClassVar[str] = "litert"
    source = "keras"
    suffix = ".tflite"
    format = "tflite"
    # LiteRT runs float32 graphs through XNNPACK (its default CPU delegate), whose GEMM and
    # convolution sum in another order than TensorFlow's Eigen and whose tanh/sigmoid are
    # polynomial approximations of a few ulp: over every shipped float32 case the worst passing
    # forward tensor used 0.06 of the float32 default and the worst layer output 0.09
    # (2026-12-07, docs/shipping.md): the defaults hold with a margin of over 10. No float64
    # (refused above).
    tolerances = {"float32": DEFAULT_TOLERANCES["float32"]}

    def version(self) -> str:
        return f"{RUNTIME}, converted by tensorflow {tf.__version__} from keras {keras.__version__}"

    def execution_paths(self, case: Case) -> list[ExecutionPath]:
        """The Keras adapter's route for each channels_first convolution (Keras' NCHW call, or
        channels_last between transposes): the converter converts the graph that route traced,
        so it ships in the .tflite, Keras 3.15.1's channels_first bias bug included where the
        route is native (cases/discovered_keras_channels_first_bias.yaml). TensorFlow's oneDNN
        and thread settings are TensorFlow's runtime, not LiteRT's: not recorded."""
        return [path for path in keras_paths.execution_paths(case) if not path.name.startswith("tensorflow.")]

    def export(self, case: Case, path: Path) -> Artifact:
        if case.spec.dtype != "float32":
            # TFLite's builtin kernels compute in float32 (and integer types); a float64 model
            # converts only through TF's own kernels (SELECT_TF_OPS), which LiteRT does not run.
            raise Unsupported(f"LiteRT's builtin operators compute in float32; this case is {case.spec.dtype}")
        adapter = KerasBackend()
        built, model = adapter.build_native(case)
        adapter.load_weights(case, built)
        names = [name for node in case.graph.nodes for name in (node.outputs or [node.name])]
        signature = [tf.TensorSpec(array.shape, tf.as_dtype(array.dtype), name=name)
                     for name, array in case.dataset.inputs.items()]

        def graph(*inputs):
            tensors = adapter.forward(case, built, dict(zip(case.dataset.inputs, inputs)))
            return {name: tensors[name] for name in names}

        # The converter freezes the variables it can find through `trackable_obj`; Keras 3's
        # variables wrap tf.Variables that a keras.Model does not expose to TF's tracking, and
        # unfound ones stay READ_VARIABLE ops reading uninitialised memory in LiteRT.
        holder = tf.Module()
        holder.variables_to_freeze = [variable.value for variable in model.container.weights]
        try:
            function = tf.function(graph, input_signature=signature).get_concrete_function()
        except Exception as exc:  # noqa: BLE001 -- a layer that cannot be traced cannot be converted
            # The converter needs the model as a graph (tf.function), as model.predict and fit do;
            # the keras column runs eagerly. A layer whose graph-mode call fails (Keras 3.15.1's
            # adaptive pooling to an output size of 1: cases/reproducers/keras_adaptive_pool_graph_mode.py)
            # is a finding about shipping this model, with Keras' words.
            raise Unsupported(f"Keras cannot trace this model into a tf.function (what TFLiteConverter "
                              f"converts; model.predict traces it too): {type(exc).__name__}: "
                              f"{traced_error(exc)}") from None
        float16 = self.options(case).float16_weights
        how = "float16 weights" if float16 else "float32, no optimization"
        printed: list[str] = []
        try:
            with native_stderr(printed):
                converter = tf.lite.TFLiteConverter.from_concrete_functions([function], holder)
                converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
                if float16:  # the converter's float16 quantization: weights stored in float16
                    converter.optimizations = [tf.lite.Optimize.DEFAULT]
                    converter.target_spec.supported_types = [tf.float16]
                path.write_bytes(converter.convert())
        except Exception as exc:  # the converter's refusal is a finding about shipping this model
            errors = [line.strip() for line in printed if "error:" in line]
            raise Unsupported(f"TFLiteConverter (builtin ops, {how}) cannot convert this model: "
                              f"{type(exc).__name__}: {first_lines(exc)}"
                              + (f" [converter: {'; '.join(errors[:3])}]" if errors else "")) from None
        return Artifact(path=path, outputs=names,
                        detail=f"TFLiteConverter.from_concrete_functions (tensorflow {tf.__version__}, builtin "
                               f"ops, {how}) of the Keras adapter's layers, run by {RUNTIME}")

    def execute(self, artifact: Artifact, case: Case) -> dict[str, np.ndarray]:
        interpreter = Interpreter(model_path=str(artifact.path))
        runner = interpreter.get_signature_runner()
        try:
            # The signature runner allocates the tensors on its first call: a kernel that refuses
            # the converted graph fails there ("failed to prepare").
            outputs = runner(**{name: np.ascontiguousarray(array) for name, array in case.dataset.inputs.items()})
        except RuntimeError as exc:
            if "failed to prepare" not in str(exc):
                raise
            raise Unsupported(f"LiteRT cannot run the converted model ({RUNTIME}): {first_lines(exc)}") from None
        return {name: np.array(value) for name, value in outputs.items()}


def traced_error(exc: BaseException) -> str:
    """Keras' message from a failed trace, without TF's "in user code" frames."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    kept = [line for line in lines if not line.startswith(("File ", "in user code", "raise ", "tensors[", "return "))]
    return " ".join(kept)[:400] or type(exc).__name__
