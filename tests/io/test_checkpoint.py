"""Checkpoint round trips, atomic commits that survive crashes, and refusal of damaged files."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import graphgrad.io.atomic as atomic
from graphgrad.errors import CheckpointError
from graphgrad.io import STATE_FILE, decode, encode, is_checkpoint, load_checkpoint, save_checkpoint


def _optimizer_state(value: float) -> dict:
    return {
        "state": {0: {"step": 3, "exp_avg": np.full(3, value, np.float32)}, 1: {"momentum_buffer": None}},
        "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "params": [0, 1], "amsgrad": False}],
    }


def _save(run_dir, value: float, epoch: int):
    model = {"0.weight": np.full((2, 3), value, np.float32), "0.bias": np.arange(2, dtype=np.float64)}
    state = {"epoch": epoch, "rng": np.random.default_rng(epoch).bit_generator.state, "best": float("inf")}
    return save_checkpoint(run_dir, state, {"model": model, "optimizer": _optimizer_state(value)})


def test_round_trip_keeps_types_dtypes_and_values(tmp_path):
    _save(tmp_path, 1.5, epoch=4)
    ck = load_checkpoint(tmp_path)
    assert ck.state["epoch"] == 4
    assert ck.state["best"] == float("inf")
    assert ck.state["rng"] == np.random.default_rng(4).bit_generator.state  # 128-bit ints survive JSON
    w = ck.groups["model"]["0.weight"]
    assert w.dtype == np.float32 and w.shape == (2, 3) and np.all(w == 1.5)
    assert ck.groups["model"]["0.bias"].dtype == np.float64
    opt = ck.groups["optimizer"]
    assert set(opt["state"]) == {0, 1}  # int keys come back as ints
    assert opt["param_groups"][0]["betas"] == (0.9, 0.999)  # tuples come back as tuples
    assert opt["state"][1]["momentum_buffer"] is None
    np.testing.assert_array_equal(opt["state"][0]["exp_avg"], np.full(3, 1.5, np.float32))


def test_arrays_inside_state_and_scalar_arrays_round_trip(tmp_path):
    state = {"mean": np.array([1.0, 2.0]), "scale": np.float32(2.5), "zero_d": np.array(7, np.int64)}
    save_checkpoint(tmp_path, state, {"model": {"w": np.ones(2, np.float32)}})
    got = load_checkpoint(tmp_path).state
    np.testing.assert_array_equal(got["mean"], [1.0, 2.0])
    assert got["scale"] == 2.5 and isinstance(got["scale"], float)
    assert got["zero_d"].shape == () and got["zero_d"] == 7


def test_codec_keeps_marker_named_keys_and_refuses_objects():
    obj = {"__tensor__": "not a marker", 2: [(1, "a")]}
    skeleton, arrays = encode(obj)
    assert decode(json.loads(json.dumps(skeleton)), arrays) == obj
    with pytest.raises(TypeError, match="cannot store a object"):
        encode({"x": object()})


def test_each_save_uses_new_names_and_removes_the_previous_files(tmp_path):
    _save(tmp_path, 1.0, epoch=1)
    first = set(os.listdir(tmp_path))
    _save(tmp_path, 2.0, epoch=2)
    second = set(os.listdir(tmp_path))
    assert first & second == {STATE_FILE}
    assert second == {STATE_FILE, "model-000002.safetensors", "optimizer-000002.safetensors"}
    assert load_checkpoint(tmp_path).state["epoch"] == 2


def _fail_on_call(monkeypatch, n: int):
    """Make the n-th os.replace of the atomic writer raise, as a crash at that moment would."""
    real = os.replace
    calls = {"n": 0}

    def replace(src, dst):
        calls["n"] += 1
        if calls["n"] == n:
            raise OSError("simulated crash")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)


@pytest.mark.parametrize("crash_at", [1, 2, 3])  # model file, optimizer file, state.json
def test_crash_mid_save_leaves_last_good_checkpoint_loadable(tmp_path, monkeypatch, crash_at):
    _save(tmp_path, 1.0, epoch=1)
    _fail_on_call(monkeypatch, crash_at)
    with pytest.raises(OSError, match="simulated crash"):
        _save(tmp_path, 2.0, epoch=2)
    monkeypatch.undo()
    ck = load_checkpoint(tmp_path)
    assert ck.state["epoch"] == 1
    assert np.all(ck.groups["model"]["0.weight"] == 1.0)
    assert np.all(ck.groups["optimizer"]["state"][0]["exp_avg"] == 1.0)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(atomic.TMP_PREFIX)]
    _save(tmp_path, 3.0, epoch=3)  # the next save succeeds and clears the orphans of the crash
    assert load_checkpoint(tmp_path).state["epoch"] == 3
    named = {f["path"] for f in json.loads((tmp_path / STATE_FILE).read_text())["files"].values()}
    assert set(os.listdir(tmp_path)) == named | {STATE_FILE} and len(named) == 2


def test_crash_while_writing_bytes_leaves_old_file_and_no_temporary(tmp_path, monkeypatch):
    _save(tmp_path, 1.0, epoch=1)
    real_open = open

    class HalfWriter:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError("simulated crash mid-write")

    monkeypatch.setattr(atomic, "open", lambda p, mode: HalfWriter(real_open(p, mode)), raising=False)
    with pytest.raises(OSError, match="mid-write"):
        _save(tmp_path, 2.0, epoch=2)
    monkeypatch.undo()
    assert load_checkpoint(tmp_path).state["epoch"] == 1
    assert sorted(os.listdir(tmp_path)) == ["model-000001.safetensors", "optimizer-000001.safetensors", STATE_FILE]


def test_stale_temporaries_are_removed_by_the_next_save_but_not_users_files(tmp_path):
    (tmp_path / f"{atomic.TMP_PREFIX}model-000009.safetensors.0123456789ab").write_bytes(b"partial")
    (tmp_path / f"{atomic.TMP_PREFIX}{STATE_FILE}.00000000abcd").write_bytes(b"partial")
    users = [".tmp-notes", ".tmp-model-000009.safetensors.abc", "ckpt-000500.safetensors", "model-000777.safetensors"]
    for name in users:
        (tmp_path / name).write_bytes(b"the user's")
    _save(tmp_path, 1.0, epoch=1)
    _save(tmp_path, 2.0, epoch=2)
    assert sorted(os.listdir(tmp_path)) == sorted([*users, "model-000779.safetensors",
                                                   "optimizer-000779.safetensors", STATE_FILE])
    assert all((tmp_path / name).read_bytes() == b"the user's" for name in users)


def test_leftover_tensor_files_of_this_run_are_removed_others_kept(tmp_path):
    _save(tmp_path, 1.0, epoch=1)
    run_id = load_checkpoint(tmp_path).run_id
    # a save killed before its commit left files of this run; another run's file was copied in
    import safetensors.numpy
    (tmp_path / "model-000005.safetensors").write_bytes(
        safetensors.numpy.save({"w": np.zeros(1)}, metadata={"run_id": run_id}))
    (tmp_path / "model-000006.safetensors").write_bytes(
        safetensors.numpy.save({"w": np.zeros(1)}, metadata={"run_id": "another-run"}))
    _save(tmp_path, 2.0, epoch=2)
    names = sorted(os.listdir(tmp_path))
    assert "model-000005.safetensors" not in names and "model-000006.safetensors" in names
    assert load_checkpoint(tmp_path).run_id == run_id  # one id for the life of the run


def test_tensor_file_linked_from_outside_the_run_is_refused(tmp_path):
    run = tmp_path / "run"
    _save(run, 1.0, epoch=1)
    outside = tmp_path / "elsewhere.safetensors"
    os.replace(run / "model-000001.safetensors", outside)
    os.symlink(outside, run / "model-000001.safetensors")
    with pytest.raises(CheckpointError, match=r"model-000001.safetensors: a link to .*elsewhere.safetensors, "
                                              r"outside the run folder"):
        load_checkpoint(run)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.update(save_index="3"), r"state.json.save_index: expected int, found str '3'"),
    (lambda d: d["files"]["model"].update(sha256=7), r"state.json.files.model.sha256: expected str, found int"),
    (lambda d: d.update(files=[1]), r"state.json.files: expected an object, found list"),
    (lambda d: d.update(state={"deep": json.loads("[" * 100 + "]" * 100)}),
     r"nested more than 64 levels deep"),
])
def test_state_json_with_wrong_types_or_absurd_nesting_is_refused(tmp_path, edit, message):
    _save(tmp_path, 1.0, epoch=1)
    doc = json.loads((tmp_path / STATE_FILE).read_text())
    edit(doc)
    (tmp_path / STATE_FILE).write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(tmp_path)


def test_state_json_nested_past_the_recursion_limit_is_refused(tmp_path):
    (tmp_path / STATE_FILE).write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CheckpointError, match="nested too deeply"):
        load_checkpoint(tmp_path)


def test_tampered_tensor_file_is_refused_naming_the_file(tmp_path):
    _save(tmp_path, 1.0, epoch=1)
    path = tmp_path / "model-000001.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model-000001\.safetensors: sha256 does not match"):
        load_checkpoint(tmp_path)


def test_truncated_tensor_file_is_refused(tmp_path):
    _save(tmp_path, 1.0, epoch=1)
    path = tmp_path / "optimizer-000001.safetensors"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(CheckpointError, match=r"optimizer-000001\.safetensors: sha256"):
        load_checkpoint(tmp_path)


def test_missing_tensor_file_is_refused(tmp_path):
    _save(tmp_path, 1.0, epoch=1)
    (tmp_path / "model-000001.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"model-000001\.safetensors: missing"):
        load_checkpoint(tmp_path)


def test_only_requested_groups_are_read(tmp_path):
    _save(tmp_path, 1.0, epoch=1)
    (tmp_path / "optimizer-000001.safetensors").unlink()
    assert set(load_checkpoint(tmp_path, groups=["model"]).groups) == {"model"}


def test_bad_json_is_refused_naming_state_json(tmp_path):
    _save(tmp_path, 1.0, epoch=1)
    text = (tmp_path / STATE_FILE).read_text()
    (tmp_path / STATE_FILE).write_text(text[: len(text) // 2])
    with pytest.raises(CheckpointError, match=r"state\.json: unreadable or not valid JSON"):
        load_checkpoint(tmp_path)


def test_wrong_format_version_is_refused(tmp_path):
    _save(tmp_path, 1.0, epoch=1)
    doc = json.loads((tmp_path / STATE_FILE).read_text())
    doc["format_version"] = 99
    (tmp_path / STATE_FILE).write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="format version 99, this graphgrad reads version 1"):
        load_checkpoint(tmp_path)


def test_directory_without_state_json_is_not_a_checkpoint(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    assert not is_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="not a graphgrad run directory"):
        load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="no such run directory"):
        load_checkpoint(tmp_path / "absent")
    other = tmp_path / STATE_FILE
    other.write_text(json.dumps({"hello": 1}))
    with pytest.raises(CheckpointError, match="not a graphgrad checkpoint"):
        load_checkpoint(tmp_path)
