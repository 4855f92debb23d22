"""`push`: dry run lists exactly what goes up; no token means one line, exit 2, nothing sent.

A recorder stands in for the Hub (`HfApi`): it records calls, and for `upload_folder` the
files that were in the folder at the moment of the call.
"""

from __future__ import annotations

import os
from pathlib import Path

import huggingface_hub.constants
import huggingface_hub.hub_mixin
import model_sharing.push as push_mod
import pytest
from conftest import run_python
from huggingface_hub import RepoUrl


class RecordingApi:
    """Stands in for HfApi: records calls instead of making requests."""

    calls: list[tuple[str, dict]] = []

    def __init__(self, token=None):
        RecordingApi.calls.append(("init", {"token_given": token is not None}))

    def create_repo(self, repo_id, **kw):
        RecordingApi.calls.append(("create_repo", {"repo_id": repo_id, **kw}))
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def upload_folder(self, **kw):
        folder = Path(kw["folder_path"])
        kw["files"] = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        RecordingApi.calls.append(("upload_folder", kw))
        return f"https://huggingface.co/{kw['repo_id']}/commit/0"


@pytest.fixture(autouse=True)
def fake_api(monkeypatch, tmp_path):
    RecordingApi.calls = []
    monkeypatch.setattr(push_mod, "HfApi", RecordingApi)
    monkeypatch.setattr(huggingface_hub.hub_mixin, "HfApi", RecordingApi)  # push_to_hub's
    monkeypatch.delenv("HF_TOKEN", raising=False)
    # no token stored by `hf auth login` either, unless a test writes one
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "token"))
    return RecordingApi


@pytest.fixture
def online(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_fake_secret")
    monkeypatch.setattr(push_mod.huggingface_hub.constants, "HF_HUB_OFFLINE", False)


def test_dry_run_lists_files_and_sizes_and_sends_nothing(digits_folder, capsys):
    assert push_mod.main([str(digits_folder), "--repo-id", "me/digits-mlp", "--dry-run"]) == 0
    out = capsys.readouterr().out
    for name in ("README.md", "config.json", "model.safetensors", "run.json"):
        size = (digits_folder / name).stat().st_size
        assert f"{size:,d}  {name}" in out
    assert "4 files" in out and "private" in out
    assert RecordingApi.calls == []


def test_no_token_is_one_line_and_nothing_uploaded(digits_folder, capsys):
    assert push_mod.main([str(digits_folder), "--repo-id", "me/digits-mlp"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no Hugging Face token: run `hf auth login`")
    assert RecordingApi.calls == []


def test_token_stored_by_hf_auth_login_is_used(digits_folder, monkeypatch, tmp_path):
    (tmp_path / "token").write_text("hf_stored_by_login")  # what `hf auth login` writes
    monkeypatch.setattr(push_mod.huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    assert push_mod.main([str(digits_folder), "--repo-id", "me/digits-mlp"]) == 0
    assert RecordingApi.calls[0] == ("init", {"token_given": True})


def test_offline_with_token_refuses_before_any_request(digits_folder, capsys, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_fake_secret")
    assert push_mod.main([str(digits_folder), "--repo-id", "me/digits-mlp"]) == 2
    err = capsys.readouterr().err
    assert "HF_HUB_OFFLINE" in err and "hf_fake_secret" not in err
    assert RecordingApi.calls == []


def test_push_creates_a_private_repo_and_uploads_the_listed_files(digits_folder, online):
    assert push_mod.main([str(digits_folder), "--repo-id", "me/digits-mlp"]) == 0
    (_, init), (_, create), (_, upload) = RecordingApi.calls
    assert init["token_given"]
    assert create["repo_id"] == "me/digits-mlp" and create["private"] is True
    assert sorted(upload["allow_patterns"]) == sorted(
        n for n, _ in push_mod.files_to_upload(digits_folder)
    )
    assert upload["files"]["README.md"] == (digits_folder / "README.md").read_bytes()


def test_public_flag(digits_folder, online):
    assert push_mod.main([str(digits_folder), "--repo-id", "me/digits-mlp", "--public"]) == 0
    assert RecordingApi.calls[1][1]["private"] is False


def test_mixin_push_to_hub_uploads_what_save_pretrained_writes(digits_folder, online):
    """push_to_hub re-saves the model: same weights, but the mixin's card and no run.json."""
    argv = [str(digits_folder), "--repo-id", "me/digits-mlp", "--via", "mixin"]
    assert push_mod.main(argv) == 0
    (_, init), (_, create), (_, upload) = RecordingApi.calls
    assert init["token_given"] and create["private"] is True
    assert set(upload["files"]) == {"config.json", "model.safetensors", "README.md"}
    assert (
        upload["files"]["model.safetensors"] == (digits_folder / "model.safetensors").read_bytes()
    )
    assert upload["files"]["README.md"] != (digits_folder / "README.md").read_bytes()
    assert b"Wilson interval" not in upload["files"]["README.md"]  # not our card


def test_modified_weights_are_never_pushed(folder_copy, capsys, online):
    path = folder_copy / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    assert push_mod.main([str(folder_copy), "--repo-id", "me/digits-mlp"]) == 2
    assert "was modified" in capsys.readouterr().err
    assert RecordingApi.calls == []


@pytest.mark.parametrize("bad", ["no-slash", "a/b/c", "/x"])
def test_bad_repo_id(digits_folder, bad, capsys):
    assert push_mod.main([str(digits_folder), "--repo-id", bad, "--dry-run"]) == 2
    assert "must look like" in capsys.readouterr().err


def test_cli_without_token_in_a_real_process(digits_folder):
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    proc = run_python("-m", "model_sharing.push", str(digits_folder), "--repo-id", "a/b", env=env)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no Hugging Face token")
    assert proc.stdout == ""


def test_network_failure_is_one_line_without_the_token(digits_folder, capsys, monkeypatch):
    class Unreachable(RecordingApi):
        def create_repo(self, repo_id, **kw):
            raise ConnectionError("Failed to resolve 'huggingface.co'\nlong traceback text")

    monkeypatch.setattr(push_mod, "HfApi", Unreachable)
    monkeypatch.setenv("HF_TOKEN", "hf_fake_secret")
    monkeypatch.setattr(push_mod.huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    assert push_mod.main([str(digits_folder), "--repo-id", "me/digits-mlp"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: upload to me/digits-mlp failed: ConnectionError: Failed to resolve 'huggingface.co'"
    ]
    assert not any(call == "upload_folder" for call, _ in RecordingApi.calls)
