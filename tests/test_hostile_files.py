"""Weights and checkpoint files are untrusted data (issue 26): no loader runs a pickle, no small
file makes a reader allocate gigabytes, and a damaged file is a CaseError naming the file (and
the tensor), never a traceback. Every hostile file is built here, in tmp_path.

The pickle payload writes a marker file when unpickled; each test first shows that the payload
does run under a loader that unpickles (numpy.load(allow_pickle=True), torch.load without
weights_only), so that the marker's absence under the harness's loader means something.
"""

from __future__ import annotations

import io
import sys
import textwrap
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from harness.weights import cases_from_data, load_cases_from_file
from harness.weights.checkpoints import canonical_weights
from harness.common.errors import CaseError
from tests.conftest import backend_or_skip

MODEL = {"sequential": [{"name": "hidden", "type": "Dense", "units": 5}, {"name": "out", "type": "Dense", "units": 2}]}


class Payload:
    """Unpickled, it creates `marker`: what a hostile pickle would do instead (run any code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def make_case(tmp_path: Path, weights: dict | None = None, dtype: str = "float32"):
    data = {"name": "hostile", "dtype": dtype, "samples": 3, "inputs": {"x": {"shape": [4], "data": {"normal": {}}}},
            "model": MODEL, "weights": weights or {"seed": 1}, "targets": {"t": {"shape": [2], "data": {"normal": {}}}},
            "loss": {"type": "mean_squared_error", "reduction": "sum"}}
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def pickled_npz(path: Path, marker: Path, names=("hidden/kernel",)) -> Path:
    """An npz whose arrays are object arrays: numpy pickles them, numpy.load(allow_pickle=True) runs them."""
    np.savez(path, **{name: np.array([Payload(marker), 1], dtype=object) for name in names})
    control = path.with_name("control-" + marker.name)
    np.savez(path.with_name("control.npz"), a=np.array([Payload(control), 1], dtype=object))
    with np.load(path.with_name("control.npz"), allow_pickle=True) as npz:
        npz["a"]
    assert control.exists(), "the payload runs when a loader unpickles"
    return path


# --- pickles refused, one test per loader -----------------------------------------------------

@pytest.mark.parametrize("format", ["auto", "npz", "chainer"])
def test_a_pickle_in_an_npz_checkpoint_does_not_run(tmp_path, format):
    """`weights: {file: x.npz}` under each format that reads an npz (auto: the object-array npz
    used to escape as a ValueError traceback from the format's guess)."""
    if format == "chainer":
        backend_or_skip("chainer")
    marker = tmp_path / "pwned"
    pickled_npz(tmp_path / "w.npz", marker, names=("hidden/kernel", "hidden/bias"))
    with pytest.raises(CaseError) as raised:
        load_cases_from_file(make_case(tmp_path, {"file": "w.npz", "format": format}))
    text = raised.value.render()
    assert "w.npz" in text
    assert "holds Python objects (dtype object): that is a pickle, which the harness never loads" in text
    assert "'hidden/kernel'" in text or "'hidden/bias'" in text
    assert not marker.exists()


def test_a_pickle_in_harness_import_chainer_weights_does_not_run(tmp_path):
    """`harness import mod.py:Chain --weights FILE.npz` used to hand the file to chainer's
    load_npz, which opens it with numpy.load(allow_pickle=True)."""
    backend_or_skip("chainer")
    from harness.entry.cli import main

    (tmp_path / "mlp.py").write_text(textwrap.dedent("""
        import chainer.links as L, chainer
        class MLP(chainer.Sequential):
            def __init__(self):
                super().__init__(L.Linear(4, 3))
    """))
    marker = tmp_path / "pwned"
    pickled_npz(tmp_path / "mlp.npz", marker, names=("0/W", "0/b"))
    status = main(["import", f"{tmp_path / 'mlp.py'}:MLP", "--weights", str(tmp_path / "mlp.npz"),
                   "--input-shape", "4", "--out", str(tmp_path / "case.yaml")])
    assert status != 0
    assert not marker.exists()


def test_harness_import_of_chainer_weights_still_loads_a_plain_npz(tmp_path):
    """The control: the harness's own npz reading hands chainer what load_npz would have."""
    backend_or_skip("chainer")
    from harness.backends.chainer._import import chainer
    from harness.entry.cli import main

    source = "import chainer.links as L, chainer\nclass MLP(chainer.Sequential):\n" \
             "    def __init__(self):\n        super().__init__(L.Linear(4, 3))\n"
    (tmp_path / "mlp.py").write_text(source)
    namespace: dict = {}
    exec(compile(source, str(tmp_path / "mlp.py"), "exec"), namespace)
    mlp = namespace["MLP"]()
    chainer.serializers.save_npz(str(tmp_path / "mlp.npz"), mlp)
    assert main(["import", f"{tmp_path / 'mlp.py'}:MLP", "--weights", str(tmp_path / "mlp.npz"),
                 "--input-shape", "4", "--out", str(tmp_path / "case.yaml")]) == 0
    (case,) = load_cases_from_file(tmp_path / "case.yaml")
    np.testing.assert_array_equal(case.weights["0/kernel"], mlp[0].W.array.T)  # chainer's W is (out, in)


def torch_payload(path: Path, marker: Path) -> Path:
    import torch

    torch.save({"hidden.weight": torch.zeros(5, 4), "hidden.bias": Payload(marker)}, path)
    control = path.with_name("control-" + marker.name)
    torch.save({"a": Payload(control)}, path.with_name("control.pt"))
    torch.load(path.with_name("control.pt"), weights_only=False)
    assert control.exists(), "the payload runs when torch.load unpickles freely"
    return path


def test_a_pickle_in_a_torch_checkpoint_does_not_run(tmp_path):
    backend_or_skip("torch")
    marker = tmp_path / "pwned"
    torch_payload(tmp_path / "w.pt", marker)
    with pytest.raises(CaseError, match=r"torch.load\(weights_only=True\) refused the file"):
        load_cases_from_file(make_case(tmp_path, {"file": "w.pt"}))
    assert not marker.exists()


def test_a_pickle_in_harness_import_torch_state_dict_does_not_run(tmp_path):
    backend_or_skip("torch")
    from harness.entry.cli import main

    (tmp_path / "net.py").write_text("import torch\nclass Net(torch.nn.Sequential):\n"
                                     "    def __init__(self):\n        super().__init__(torch.nn.Linear(4, 5))\n")
    marker = tmp_path / "pwned"
    torch_payload(tmp_path / "net.pt", marker)
    assert main(["import", f"{tmp_path / 'net.py'}:Net", "--state-dict", str(tmp_path / "net.pt"),
                 "--input-shape", "4", "--out", str(tmp_path / "case.yaml")]) != 0
    assert not marker.exists()


def test_a_pickle_in_a_command_ports_outputs_does_not_run(tmp_path):
    from harness.checks.runner import ERROR, run_case
    from tests.test_ports import ONE_DENSE

    marker = tmp_path / "pwned"
    script = tmp_path / "evil_port.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        import numpy as np
        class Payload:
            def __reduce__(self):
                return (exec, ("open({str(marker)!r}, 'w').close()",))
        np.savez(sys.argv[1], dense=np.array([Payload(), 1], dtype=object))
    """))
    data = {**ONE_DENSE, "ports": [{"name": "evil", "command": ["{python}", str(script), "{outputs}"]}]}
    report = run_case(cases_from_data(data, file=str(tmp_path / "memory.yaml"))[0], ["numpy"])
    assert report.outcomes["evil"].status == ERROR
    assert "its outputs file cannot be read as .npz" in report.outcomes["evil"].reason
    assert not marker.exists()


# --- bounded: a small file declaring a lot allocates nothing ----------------------------------

def bomb(path: Path, member: str, megabytes: int, extra: dict[str, bytes] | None = None) -> Path:
    """A zip whose `member` inflates from a few hundred KB to `megabytes` MB of zeros."""
    zeros = bytes(2 ** 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
        with archive.open(member, "w", force_zip64=True) as stream:
            for _ in range(megabytes):
                stream.write(zeros)
    return path


def peak_bytes(action) -> tuple[BaseException | None, int]:
    """Run `action`; what it raised and the peak of memory it allocated (numpy's arrays are
    traced by tracemalloc, h5py's reads land in numpy arrays)."""
    tracemalloc.start()
    try:
        action()
        raised = None
    except BaseException as exc:  # noqa: BLE001  returned to the test
        raised = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return raised, peak


def test_a_small_weights_h5_declaring_a_huge_dataset_is_not_read(tmp_path):
    """14.5 KB declaring 20000x20000 float32 (1.6 GB): refused from its declared shape; it used
    to allocate 2 GB before failing."""
    backend_or_skip("keras")
    import h5py

    (case,) = load_cases_from_file(make_case(tmp_path))
    path = tmp_path / "bomb.weights.h5"
    with h5py.File(path, "w") as file:
        file.create_dataset("layers/dense/vars/0", shape=(20000, 20000), dtype="float32", chunks=(1000, 1000),
                            compression="gzip", fillvalue=0.0)
        file.create_dataset("layers/dense/vars/1", data=np.zeros(5, "float32"))
    assert path.stat().st_size < 100_000
    raised, peak = peak_bytes(lambda: canonical_weights(case, path, "keras"))
    assert isinstance(raised, CaseError), raised
    assert "shape differs (expected shape (4, 5), found (20000, 20000))" in raised.render(), raised.render()
    assert peak < 200 * 2 ** 20, f"{peak / 2 ** 20:.0f} MB allocated"


@pytest.mark.parametrize("format, member", [("keras", "model.weights.h5"), ("npz", "hidden/kernel.npy"),
                                            ("torch", "archive/data/0")])
def test_an_archive_that_inflates_past_what_the_model_needs_is_refused_unread(tmp_path, format, member):
    """A deflate bomb (here 300 MB of zeros in under 1 MB) in a .keras, an .npz, a .pt: refused
    from the archive's directory, before any member is inflated."""
    if format in ("keras", "torch"):
        backend_or_skip(format)
    suffix = {"keras": ".keras", "npz": ".npz", "torch": ".pt"}[format]
    path = bomb(tmp_path / f"bomb{suffix}", member, 300)
    assert path.stat().st_size < 2 ** 20
    (case,) = load_cases_from_file(make_case(tmp_path))
    raised, peak = peak_bytes(lambda: canonical_weights(case, path, format))
    assert isinstance(raised, CaseError), raised
    text = raised.render()
    assert f"bomb{suffix}" in text and "would inflate to 300.0 MB" in text and "refused unread" in text
    assert peak < 100 * 2 ** 20, f"{peak / 2 ** 20:.0f} MB allocated"


def test_harness_import_of_a_keras_bomb_is_refused_unread(tmp_path):
    backend_or_skip("keras")
    from harness.entry.cli import main

    path = bomb(tmp_path / "m.keras", "model.weights.h5", 300, {"config.json": b"{}", "metadata.json": b"{}"})
    raised, peak = peak_bytes(lambda: main(["import", str(path), "--out", str(tmp_path / "case.yaml")]))
    assert raised is None and peak < 100 * 2 ** 20
    assert not (tmp_path / "case.yaml").exists()


def test_a_member_that_inflates_past_its_declared_size_stops_at_the_limit(tmp_path):
    from harness.case.bounded_reading import read_member

    path = bomb(tmp_path / "b.zip", "big", 20)
    with zipfile.ZipFile(path) as archive:
        with pytest.raises(ValueError, match="inflates past 1.0 MB"):
            read_member(archive, "big", 2 ** 20)


def test_an_npz_array_declaring_more_than_the_model_is_not_read(tmp_path):
    """An uncompressed npz member header declaring (20000, 20000): the data is never read."""
    buffer = io.BytesIO()
    header = {"descr": "<f4", "fortran_order": False, "shape": (20000, 20000)}
    np.lib.format.write_array_header_1_0(buffer, header)
    with zipfile.ZipFile(tmp_path / "w.npz", "w") as archive:
        archive.writestr("hidden/kernel.npy", buffer.getvalue() + bytes(64))
    (case,) = load_cases_from_file(make_case(tmp_path))
    raised, peak = peak_bytes(lambda: canonical_weights(case, tmp_path / "w.npz", "npz"))
    assert isinstance(raised, CaseError)
    assert "hidden/kernel: shape differs (expected shape (4, 5), found (20000, 20000))" in raised.render()
    assert peak < 50 * 2 ** 20


# --- damaged files: a CaseError naming the file (and the tensor) ------------------------------

def test_a_damaged_hdf5_object_header_is_a_case_error(tmp_path):
    """Bytes flipped in a dataset's object header (found with h5py's own addresses): each flip
    loads, or is a CaseError naming the file, never another exception."""
    backend_or_skip("keras")
    import h5py

    from harness.weights.checkpoints import write_checkpoint

    (case,) = load_cases_from_file(make_case(tmp_path))
    good = write_checkpoint(case, "keras", tmp_path / "good.weights.h5")
    with h5py.File(good, "r") as file:
        address = h5py.h5o.get_info(file["layers/dense/vars/0"].id).addr
    raw = good.read_bytes()
    errors = 0
    for offset in range(address, address + 96, 6):
        damaged = bytearray(raw)
        damaged[offset] ^= 0xFF
        path = tmp_path / "damaged.weights.h5"
        path.write_bytes(bytes(damaged))
        try:
            canonical_weights(case, path, "keras")
        except CaseError as exc:
            errors += 1
            assert "damaged.weights.h5" in exc.render()
    assert errors > 0, "some flips damage the file"


def test_a_truncated_npz_is_a_case_error_naming_the_tensor(tmp_path):
    (case,) = load_cases_from_file(make_case(tmp_path))
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f4", "fortran_order": False, "shape": (4, 5)})
    with zipfile.ZipFile(tmp_path / "w.npz", "w") as archive:
        archive.writestr("hidden/kernel.npy", buffer.getvalue() + bytes(8))  # 8 of its 80 bytes
    with pytest.raises(CaseError, match=r"tensor 'hidden/kernel' is cut short: 8 of its 80 bytes"):
        canonical_weights(case, tmp_path / "w.npz", "npz")


def test_an_npz_that_is_not_a_zip_under_auto_is_a_case_error(tmp_path):
    (tmp_path / "w.npz").write_bytes(b"not a zip at all")
    with pytest.raises(CaseError, match="w.npz"):
        load_cases_from_file(make_case(tmp_path, {"file": "w.npz"}))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
