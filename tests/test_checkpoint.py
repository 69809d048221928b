"""Tests for microgradx.save / microgradx.load: exact round trips and refusals."""

from __future__ import annotations

import json
import math
import os
import pickle
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import microgradx
from microgradx import Value, load, save
from microgradx.checkpoint import FORMAT, VERSION, CheckpointError
from microgradx.nn import MLP
from microgradx.optim import SGD, Adam, StepLR


def _bits(x: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", x))[0])


def _params(model: MLP) -> list[float]:
    return [p.data for p in model.parameters()]


def test_exported_at_top_level() -> None:
    assert microgradx.save is save and microgradx.load is load
    assert issubclass(CheckpointError, ValueError)


def test_model_round_trip_is_exact(tmp_path: Path) -> None:
    model = MLP(2, [16, 16, 1], seed=0)
    path = tmp_path / "model.json"
    save(model.state_dict(), path)
    other = MLP(2, [16, 16, 1], seed=1)
    other.load_state_dict(load(path))
    assert [_bits(x) for x in _params(other)] == [_bits(x) for x in _params(model)]


SPECIAL = [
    0.0,
    -0.0,
    0.1,
    1 / 3,
    5e-324,
    -2.2250738585072014e-308,
    1.7976931348623157e308,
    math.inf,
    -math.inf,
    math.nan,
    struct.unpack("<d", struct.pack("<Q", 0xFFF8000000000001))[0],  # a NaN with payload
]


def test_special_floats_round_trip_bit_exactly(tmp_path: Path) -> None:
    path = tmp_path / "floats.json"
    save({"values": SPECIAL}, path)
    back = load(path)["values"]
    assert [_bits(x) for x in back] == [_bits(x) for x in SPECIAL]
    text = path.read_text()
    json.loads(text)  # standard JSON: no NaN / Infinity literals
    assert "NaN" not in text and "Infinity" not in text
    assert '"$float": "inf"' in text and '"$float": "nan"' in text


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=20))
def test_any_floats_round_trip(values: list[float]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "c.json")
        save(values, path)
        back = load(path)
    assert [_bits(x) for x in back] == [_bits(x) for x in values]


def test_file_is_readable_json_with_format_version(tmp_path: Path) -> None:
    model = MLP(2, [2, 1], seed=0)
    path = tmp_path / "m.json"
    save({"model": model.state_dict(), "step": 3}, path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format"] == FORMAT == "microgradx-checkpoint"
    assert doc["version"] == VERSION == 2
    assert doc["data"]["step"] == 3
    assert doc["data"]["model"]["layers.0.neurons.0.w.0"] == model.layers[0].neurons[0].w[0].data


def test_optimizer_and_scheduler_state_round_trip(tmp_path: Path) -> None:
    def loss(ps: list[Value]) -> Value:
        a, b = ps
        return (a - 1) ** 2 + 3 * (b + 2) ** 2 + a * b

    def train(opt: Adam, sched: StepLR, ps: list[Value], steps: int) -> None:
        for _ in range(steps):
            opt.zero_grad()
            loss(ps).backward()
            opt.step()
            sched.step()

    ref = [Value(0.5), Value(0.5)]
    ref_opt = Adam(ref, lr=0.1, amsgrad=True)
    train(ref_opt, StepLR(ref_opt, 3, 0.5), ref, 12)

    ps = [Value(0.5), Value(0.5)]
    opt = Adam(ps, lr=0.1, amsgrad=True)
    sched = StepLR(opt, 3, 0.5)
    train(opt, sched, ps, 5)
    path = tmp_path / "ckpt.json"
    save(
        {
            "params": [p.data for p in ps],
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
        },
        path,
    )
    back = load(path)
    saved = opt.state_dict()
    assert back["optimizer"]["state"] == saved["state"]  # int keys survive
    assert back["optimizer"]["param_groups"][0]["betas"] == [0.9, 0.999]  # tuples: lists
    qs = [Value(x) for x in back["params"]]
    opt2 = Adam(qs)
    sched2 = StepLR(opt2, 3, 0.5)
    opt2.load_state_dict(back["optimizer"])
    sched2.load_state_dict(back["scheduler"])
    train(opt2, sched2, qs, 7)
    assert [q.data for q in qs] == [p.data for p in ref]


def test_dict_keys_of_every_kind_round_trip(tmp_path: Path) -> None:
    obj = {
        "plain": {"a": 1, "b": [1, 2.5, None, True, "s"]},
        "ints": {0: "zero", 7: {"x": 1.5}},
        "dollar": {"$float": "not a float", "$x": 1},
        "mixed": {1: "one", "one": 1},
        "empty": {},
        "tuple": (1, 2),
    }
    path = tmp_path / "o.json"
    save(obj, path)
    back = load(path)
    assert back == {**obj, "tuple": [1, 2]}
    assert type(back["plain"]["a"]) is int and type(back["plain"]["b"][1]) is float


def test_truncated_file_is_refused_and_model_untouched(tmp_path: Path) -> None:
    source = MLP(2, [3, 1], seed=0)
    path = tmp_path / "m.json"
    save(source.state_dict(), path)
    data = path.read_bytes()
    model = MLP(2, [3, 1], seed=1)
    before = _params(model)
    for cut in (len(data) // 2, len(data) - 3, 10, 0):
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match="truncated"):
            model.load_state_dict(load(path))
        assert _params(model) == before


def test_foreign_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "f"
    cases: list[tuple[bytes, str]] = [
        (b'{"weights": [1, 2, 3]}', "not a microgradx checkpoint"),
        (b"[1, 2, 3]", "not a microgradx checkpoint"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
        (b"hello world", "not a complete JSON"),
        (
            b'{"format": "microgradx-checkpoint", "version": 99, "data": {}}',
            "format version 99.*versions up to 2: upgrade microgradx",
        ),
        (b'{"format": "microgradx-checkpoint", "version": "1", "data": {}}', "bad format version"),
        (b'{"format": "microgradx-checkpoint", "version": 1}', "fields format, version and data"),
        (
            b'{"format": "microgradx-checkpoint", "version": 1, "data": {"x": NaN}}',
            "non-standard JSON constant 'NaN'",
        ),
        (
            b'{"format": "microgradx-checkpoint", "version": 1, "data": {"$eval": "1"}}',
            "unknown tagged value",
        ),
        (
            b'{"format": "microgradx-checkpoint", "version": 1, "data": {"$float": "1e5"}}',
            "is not 'nan', 'inf' or '-inf'",
        ),
        (
            b'{"format": "microgradx-checkpoint", "version": 1, "data": '
            b'{"$float": "nan", "bits": "0x3ff0000000000000"}}',
            "are not a NaN",
        ),
        (b"[" * 100000 + b"]" * 100000, "nested too deeply|not a microgradx"),
    ]
    for content, message in cases:
        path.write_bytes(content)
        with pytest.raises(CheckpointError, match=message):
            load(path)


def test_loading_never_executes_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[Any, ...]:
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"model": Exploit()}))
    with pytest.raises(CheckpointError):
        load(path)
    assert not marker.exists()


def test_mismatched_checkpoint_leaves_model_untouched(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    save(MLP(2, [3, 1], seed=0).state_dict(), path)
    model = MLP(2, [4, 1], seed=1)
    before = _params(model)
    with pytest.raises(ValueError, match=r"13 entries, the model 17 parameters.*missing"):
        model.load_state_dict(load(path))
    assert _params(model) == before
    renamed = {k.replace("layers", "blocks"): v for k, v in load(path).items()}
    small = MLP(2, [3, 1], seed=1)
    before = _params(small)
    with pytest.raises(ValueError, match="unexpected: 'blocks"):
        small.load_state_dict(renamed)
    assert _params(small) == before


def test_unsupported_objects_are_refused_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    model = MLP(2, [1], seed=0)
    with pytest.raises(TypeError, match=r"is a MLP.*save MLP.state_dict\(\) instead"):
        save(model, path)
    with pytest.raises(TypeError, match=r"obj\['w'\] is a Value"):
        save({"w": Value(1.0)}, path)
    with pytest.raises(TypeError, match="key of type float"):
        save({1.5: 2}, path)
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        save(loop, path)
    with pytest.raises(TypeError, match=r"path must be a str or os.PathLike, got int"):
        save({}, 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"path must be a str or os.PathLike"):
        load(None)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary left behind


def test_interrupted_write_keeps_the_old_file(tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "m.json"
    save({"version": "old"}, path)
    old = path.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save({"version": "new", "big": list(range(1000))}, path)
    monkeypatch.undo()
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]  # the temporary is gone
    save({"version": "new"}, path)
    assert load(path) == {"version": "new"}


def test_saved_file_gets_the_usual_permissions(tmp_path: Path) -> None:
    plain = tmp_path / "plain.json"
    plain.write_text("{}")
    path = tmp_path / "m.json"
    save({}, path)
    assert path.stat().st_mode == plain.stat().st_mode


def test_missing_file() -> None:
    with pytest.raises(FileNotFoundError):
        load("/nonexistent/dir/model.json")


def test_optimizer_sgd_state_saves(tmp_path: Path) -> None:
    p = Value(1.0)
    opt = SGD([p], lr=0.1, momentum=0.9)
    p.grad = 0.5
    opt.step()
    path = tmp_path / "o.json"
    save(opt.state_dict(), path)
    assert load(path) == {
        "state": {0: {"momentum_buffer": 0.5}},
        "param_groups": [
            {
                "lr": 0.1,
                "momentum": 0.9,
                "dampening": 0.0,
                "weight_decay": 0.0,
                "nesterov": False,
                "maximize": False,
                "params": [0],
            }
        ],
    }
