"""torch attention imported through torch.fx: nn.TransformerEncoderLayer (d_model 8, 2 heads,
dim_feedforward 16) with batch_first and norm_first both ways and a ReLU or GELU feed-forward
becomes the graph of layers it computes (harness/backends/torch/attention.py `encoder_layer`);
nn.MultiheadAttention called `out, _ = self.attn(x, x, x)` becomes the case's self-attention;
the packed in_proj_weight of the user's state_dict is read into the case's per-head layout and
written back packed on export. The framework's own module checks the case's reference (in eval
and without grad torch runs its fused torch._transformer_encoder_layer_fwd for batch_first with
an even head count: `test_torch_takes_its_fused_path_here` says so on the installed torch),
then every backend runs the case: forward, intermediates and gradients."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from harness.backends.numpy_reference import run_reference
from harness.entry.cli import main
from tests.conftest import backend_or_skip
from tests.test_import_export import ATOL, RTOL, passes_everywhere
from tests.torch_import import import_torch_source

ENCODER = textwrap.dedent("""
    import torch
    import torch.nn as nn

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first={batch_first},
                                                  norm_first={norm_first}, activation={activation!r})
            self.head = nn.Linear(8, 3)

        def forward(self, x):
            {body}
            return self.head(x)
""")

TIME_MAJOR_BODY = "x = self.enc(x.transpose(0, 1)).transpose(0, 1)"
BATCH_FIRST_BODY = "x = self.enc(x)"


def encoder_source(batch_first: bool, norm_first: bool, activation: str) -> str:
    body = BATCH_FIRST_BODY if batch_first else TIME_MAJOR_BODY
    return ENCODER.format(batch_first=batch_first, norm_first=norm_first, activation=activation, body=body)


def own_prediction(net, inputs: np.ndarray) -> np.ndarray:
    import torch

    net.eval()
    with torch.no_grad():
        return net(torch.from_numpy(inputs)).numpy()


@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_major"])
@pytest.mark.parametrize("norm_first, activation", [(False, "relu"), (True, "gelu")], ids=["post_norm", "pre_norm"])
def test_transformer_encoder_layer_imports_and_passes(tmp_path, batch_first, norm_first, activation):
    backend_or_skip("torch")
    case, net = import_torch_source(tmp_path, encoder_source(batch_first, norm_first, activation), "Encoder",
                                    "5,8", seed=23)
    kinds = [type(spec).type_name() for spec in case.graph.layers.values()]
    assert kinds.count("MultiHeadAttention") == 1 and kinds.count("LayerNormalization") == 2
    assert kinds.count("Add") == 2 and kinds.count("Dense") == 3
    (inputs,) = case.dataset.inputs.values()
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, own_prediction(net, inputs), rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


ATTENTION = textwrap.dedent("""
    import torch
    import torch.nn as nn

    class Attend(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
            self.norm = nn.LayerNorm(8)

        def forward(self, x):
            out, _ = self.attn(x, x, x, need_weights=False)
            return self.norm(out + x)
""")


def test_multihead_attention_with_getitem_imports_and_exports_back_packed(tmp_path):
    backend_or_skip("torch")
    import torch

    case, net = import_torch_source(tmp_path, ATTENTION, "Attend", "4,8", seed=5)
    (attention,) = [spec for spec in case.graph.layers.values() if type(spec).type_name() == "MultiHeadAttention"]
    assert (attention.num_heads, attention.key_dim, attention.use_bias) == (2, 4, True)
    (inputs,) = case.dataset.inputs.values()
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, own_prediction(net, inputs), rtol=RTOL, atol=ATOL)
    passes_everywhere(case)

    # The case's query kernel is rows 0:8 of the packed in_proj_weight, split into heads.
    packed = net.attn.in_proj_weight.detach().numpy()
    np.testing.assert_array_equal(case.weights["attn/query_kernel"], packed[:8].T.reshape(8, 2, 4))
    # Export: the packed form again, which a fresh module loads strictly.
    assert main(["export", str(case.file), "--format", "torch", "--out", str(tmp_path / "back.pt")]) == 0
    state = torch.load(tmp_path / "back.pt", weights_only=True)
    assert "attn.in_proj_weight" in state and "attn.q_proj_weight" not in state
    namespace: dict = {}
    exec(ATTENTION, namespace)
    fresh = namespace["Attend"]()
    fresh.load_state_dict(state, strict=True)
    np.testing.assert_array_equal(own_prediction(fresh, inputs), own_prediction(net, inputs))


def test_torch_takes_its_fused_path_here():
    """What the import's check of the module's own predictions runs: torch 2.x in eval mode,
    without grad, batch_first and an even head count takes torch._transformer_encoder_layer_fwd
    (torch/nn/modules/transformer.py, TransformerEncoderLayer.forward's fast path); time-major
    (batch_first=False) takes the Python path (`_sa_block`, `_ff_block`). The case's torch run
    is neither: the adapter's layers (F.multi_head_attention_forward, F.layer_norm, F.linear)."""
    torch = pytest.importorskip("torch")
    calls = []
    fused = torch._transformer_encoder_layer_fwd

    def spy(*arguments):
        calls.append("fused")
        return fused(*arguments)

    for batch_first in (True, False):
        layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=batch_first).eval()
        calls.clear()
        torch._transformer_encoder_layer_fwd = spy
        try:
            with torch.no_grad():
                layer(torch.zeros(2, 5, 8))
        finally:
            torch._transformer_encoder_layer_fwd = fused
        assert calls == (["fused"] if batch_first else []), batch_first

    native = torch._native_multi_head_attention  # nn.MultiheadAttention's own fast path
    calls.clear()
    torch._native_multi_head_attention = lambda *arguments, **options: calls.append("native") or native(
        *arguments, **options)
    try:
        attention = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
        with torch.no_grad():
            x = torch.zeros(2, 5, 8)
            attention(x, x, x, need_weights=False)
    finally:
        torch._native_multi_head_attention = native
    assert calls == ["native"]


REFUSED = textwrap.dedent("""
    import torch
    import torch.nn as nn

    class Refused(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
            self.enc = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)

        def forward(self, x, y):
            out, weights = self.attn(x, y, y)
            return self.enc(out), weights
""")


def test_what_the_case_cannot_express_is_listed(tmp_path, capsys):
    backend_or_skip("torch")
    import torch

    module_file = tmp_path / "refused.py"
    module_file.write_text(REFUSED)
    namespace: dict = {}
    exec(REFUSED, namespace)
    torch.save(namespace["Refused"]().state_dict(), tmp_path / "refused.pt")
    assert main(["import", f"{module_file}:Refused", "--weights", str(tmp_path / "refused.pt"),
                 "--input-shape", "5,8", "--input-shape", "5,8", "--out", str(tmp_path / "refused.yaml")]) != 0
    printed = " ".join((capsys.readouterr().out + capsys.readouterr().err).split())
    assert "cross-attention" in printed
    assert "uses the attention weights" in printed
    assert "batch_first=False" in printed
    assert not (tmp_path / "refused.yaml").exists()


MASKED_ATTENTION = textwrap.dedent("""
    import torch
    import torch.nn as nn

    class MaskedAttend(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
            # nn.MultiheadAttention's boolean attn_mask: True = NOT allowed to attend.
            blocked = torch.tensor([[False, True, False, True],
                                    [True, False, False, True],
                                    [False, False, True, False],
                                    [True, True, True, False]])
            self.register_buffer("blocked", blocked)
            self.head = nn.Linear(8, 2)

        def forward(self, x):
            out, _ = self.attn(x, x, x, attn_mask=self.blocked, need_weights=False)
            return self.head(out)
""")


def test_a_boolean_attn_mask_buffer_becomes_the_case_mask_negated(tmp_path):
    """The module's own predictions check the reference (with the case's True = may attend),
    then every backend passes; the case's mask is the negation of torch's."""
    backend_or_skip("torch")
    case, net = import_torch_source(tmp_path, MASKED_ATTENTION, "MaskedAttend", "4,8", seed=7)
    (attention,) = [spec for spec in case.graph.layers.values() if type(spec).type_name() == "MultiHeadAttention"]
    np.testing.assert_array_equal(np.array(attention.mask), ~net.blocked.numpy())
    assert not attention.causal
    (inputs,) = case.dataset.inputs.values()
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, own_prediction(net, inputs), rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


CAUSAL_ENCODER = textwrap.dedent("""
    import torch
    import torch.nn as nn

    class CausalEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True)
            # float: 0 where attending, -inf above the diagonal
            self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(5))
            self.head = nn.Linear(8, 3)

        def forward(self, x):
            return self.head(self.enc(x, src_mask=self.mask, is_causal=True))
""")


def test_an_encoder_layer_with_the_square_subsequent_mask_is_causal(tmp_path):
    backend_or_skip("torch")
    case, net = import_torch_source(tmp_path, CAUSAL_ENCODER, "CausalEncoder", "5,8", seed=11)
    (attention,) = [spec for spec in case.graph.layers.values() if type(spec).type_name() == "MultiHeadAttention"]
    assert attention.causal and attention.mask is None
    (inputs,) = case.dataset.inputs.values()
    (reference,) = run_reference(case, train=False).outputs.values()
    np.testing.assert_allclose(reference, own_prediction(net, inputs), rtol=RTOL, atol=ATOL)
    passes_everywhere(case)


MASKS_REFUSED = textwrap.dedent("""
    import torch
    import torch.nn as nn

    class MasksRefused(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
            self.attn2 = nn.MultiheadAttention(8, 2, batch_first=True)
            self.register_buffer("bias", torch.full((5, 5), 0.5))
            self.register_buffer("everything", torch.ones(5, 5, dtype=torch.bool))

        def forward(self, x):
            out, _ = self.attn(x, x, x, attn_mask=self.bias)
            out2, _ = self.attn2(out, out, out, attn_mask=self.everything)
            return out2
""")


def test_masks_the_case_cannot_express_are_listed(tmp_path, capsys):
    backend_or_skip("torch")
    import torch

    module_file = tmp_path / "masks.py"
    module_file.write_text(MASKS_REFUSED)
    namespace: dict = {}
    exec(MASKS_REFUSED, namespace)
    torch.save(namespace["MasksRefused"]().state_dict(), tmp_path / "masks.pt")
    assert main(["import", f"{module_file}:MasksRefused", "--weights", str(tmp_path / "masks.pt"),
                 "--input-shape", "5,8", "--out", str(tmp_path / "masks.yaml")]) != 0
    printed = " ".join((capsys.readouterr().out + capsys.readouterr().err).split())
    assert "values other than 0 and -inf" in printed
    assert "blocks every key for query positions [0, 1, 2, 3, 4]" in printed
    assert not (tmp_path / "masks.yaml").exists()
