"""Pickle runs code; safetensors carries only tensors; broken or modified files are rejected."""

from __future__ import annotations

import json
import pickle
import re

import pytest
import torch
from model_sharing.pickle_demo import (
    run_demo,
    safe_load,
    save_as_safetensors,
    unsafe_load,
    write_malicious_checkpoint,
)
from model_sharing.plumbing import ShareError
from model_sharing.receipt import weights_sha256
from model_sharing.safetensors_tools import (
    HEADER_LIMIT,
    describe,
    load_verified,
    peek_header,
    read_one_tensor,
    verify_folder,
)
from model_sharing.safetensors_tools import main as inspect_main
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file


@pytest.fixture
def small_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


def test_safe_load_refuses_and_unsafe_load_runs_the_payload(tmp_path, small_model):
    marker = tmp_path / "marker.txt"
    ckpt = write_malicious_checkpoint(small_model, tmp_path / "ckpt.pt", marker)
    assert not marker.exists()

    with pytest.raises(pickle.UnpicklingError, match="exec"):
        safe_load(ckpt)
    assert not marker.exists(), "weights_only=True must not run any code"

    loaded = unsafe_load(ckpt)
    assert marker.exists(), "weights_only=False ran the checkpoint's code"
    assert "ran while loading" in marker.read_text()
    assert torch.equal(loaded["state_dict"]["0.weight"], small_model[0].weight)


def test_run_demo_reports_the_same_story(tmp_path):
    facts = run_demo(tmp_path)
    assert facts["marker_after_weights_only_true"] is False
    assert facts["marker_after_weights_only_false"] is True
    assert "Unsupported global" in facts["safe_load_refused"]


def test_header_is_plain_json_naming_every_tensor(tmp_path, small_model):
    path = save_as_safetensors(small_model, tmp_path / "m.safetensors")
    header = peek_header(path)
    assert header["__metadata__"] == {"format": "pt", "source": "pickle_demo"}
    rows = {r["name"]: r for r in describe(path)}
    assert set(rows) == set(small_model.state_dict())
    assert rows["0.weight"]["dtype"] == "F32" and rows["0.weight"]["shape"] == [3, 4]
    # only tensor entries and string metadata: nothing a loader could execute
    assert all(isinstance(v, str) for v in header["__metadata__"].values())


def test_lazy_read_returns_one_tensor_exactly(tmp_path, small_model):
    path = save_as_safetensors(small_model, tmp_path / "m.safetensors")
    assert torch.equal(read_one_tensor(path, "2.bias"), small_model[2].bias.detach())
    with pytest.raises(ShareError, match="no tensor"):
        read_one_tensor(path, "nope")


def test_safetensors_round_trip_keeps_weights_sha256_and_outputs(tmp_path, small_model):
    sd = small_model.state_dict()
    save_file(sd, str(tmp_path / "m.safetensors"))
    loaded = load_file(str(tmp_path / "m.safetensors"))
    assert weights_sha256(loaded) == weights_sha256(sd)
    fresh = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    fresh.load_state_dict(loaded)
    x = torch.linspace(-1, 1, 32).view(8, 4)  # a fixed input batch
    with torch.no_grad():
        assert torch.equal(fresh(x), small_model(x))


def _with_header(path, edit) -> None:
    """Rewrite the JSON header of a safetensors file in place; the tensor bytes stay."""
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")
    header = json.dumps(edit(json.loads(data[8 : 8 + n]))).encode()
    path.write_bytes(len(header).to_bytes(8, "little") + header + data[8 + n :])


def _shrink_one_tensor(header):
    header["net.0.bias"]["data_offsets"][1] -= 4  # claims 63 floats for a 64-float bias
    return header


def _drop_offsets(header):
    del header["net.0.bias"]["data_offsets"]
    return header


def _corrupt_header_byte(data: bytes) -> bytes:
    return data[:9] + b"\xff" + data[10:]  # inside the JSON header: no longer UTF-8


def _header_over_the_cap(data: bytes) -> bytes:
    return (HEADER_LIMIT + 1).to_bytes(8, "little") + data[8:]


DAMAGE = {
    "offsets-shrunk": lambda path: _with_header(path, _shrink_one_tensor),
    "offsets-missing": lambda path: _with_header(path, _drop_offsets),
    "header-a-list": lambda path: _with_header(path, list),
    "header-byte": lambda path: path.write_bytes(_corrupt_header_byte(path.read_bytes())),
    "header-over-cap": lambda path: path.write_bytes(_header_over_the_cap(path.read_bytes())),
    **{
        f"truncated-{keep}": lambda path, keep=keep: path.write_bytes(path.read_bytes()[:keep])
        for keep in (0, 5, 40, 100, 19_000)
    },
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_file_is_refused_by_the_library_in_one_line(folder_copy, capsys, damage):
    """The check is the library's: its SafetensorError, whatever its words, becomes our one line."""
    path = folder_copy / "model.safetensors"
    DAMAGE[damage](path)
    with pytest.raises(SafetensorError) as library:
        load_file(str(path))
    with pytest.raises(ShareError) as ours:
        load_verified(path)
    assert isinstance(ours.value.__cause__, SafetensorError)
    assert inspect_main([str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # nothing printed from a broken file
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(folder_copy) in lines[0]
    assert " ".join(str(library.value).split()) in lines[0]  # the library's own message


def test_header_cap_is_the_one_the_library_enforces(tmp_path):
    """HEADER_LIMIT is the format's cap: the library refuses one byte more for another reason
    than a length at the cap (which it allows, then finds the file too short)."""
    reasons = {}
    for n in (HEADER_LIMIT - 1, HEADER_LIMIT, HEADER_LIMIT + 1):
        (tmp_path / "f.safetensors").write_bytes(n.to_bytes(8, "little"))
        with pytest.raises(SafetensorError) as err:
            load_file(str(tmp_path / "f.safetensors"))
        reasons[n] = str(err.value)
    assert reasons[HEADER_LIMIT - 1] == reasons[HEADER_LIMIT] != reasons[HEADER_LIMIT + 1]
    with pytest.raises(ShareError, match="exceeds the format's cap"):
        peek_header(tmp_path / "f.safetensors")


def test_modified_tensor_bytes_are_caught_by_the_hash_not_the_format(folder_copy):
    path = folder_copy / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # flip one bit of the last weight
    path.write_bytes(bytes(data))
    load_file(str(path))  # still a valid safetensors file: the format has no checksum
    with pytest.raises(ShareError, match="was modified"):
        verify_folder(folder_copy)


def test_cli_inspects_and_verifies(digits_folder, capsys):
    run = json.loads((digits_folder / "run.json").read_text())
    args = [str(digits_folder / "model.safetensors"), "--tensor", "net.2.bias"]
    assert inspect_main([*args, "--expect-sha256", run["weights_sha256"]]) == 0
    out = capsys.readouterr().out
    assert "net.0.weight" in out and "weights_sha256 matches" in out
    assert inspect_main([*args, "--expect-sha256", "0" * 64]) == 2
    assert "was modified" in capsys.readouterr().err


def test_slides_credit_the_library_only_with_its_own_messages(folder_copy):
    """The 'Safe != intact' slide quotes safetensors' messages: each one is what it raises."""
    from pathlib import Path

    slides = (Path(__file__).resolve().parents[1] / "slides.md").read_text()
    path = folder_copy / "model.safetensors"
    good = path.read_bytes()
    damage = {
        "| truncated file": good[:19_000],
        "| corrupted header": good[:9] + b"\xff" + good[10:],
    }
    for row_start, damaged in damage.items():
        row = next(ln for ln in slides.splitlines() if ln.startswith(row_start))
        quoted = re.search(r'`SafetensorError`: \*"(.+?)"\*', row)[1]
        path.write_bytes(damaged)
        with pytest.raises(SafetensorError, match=re.escape(quoted)):
            load_file(str(path))
    assert "is truncated: tensor" not in slides  # a message of ours, once credited to the format
