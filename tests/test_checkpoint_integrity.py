"""Checkpoints that cannot lie: every changed byte, every malformed number is refused.

The files of format version 1 in ``tests/data`` were written by ``save`` before the digest
existed (microgradx 0.1.0 at commit 56c245e): ``checkpoint_v1_model.json`` holds
``MLP(2, [3, 1], seed=0).state_dict()``, ``checkpoint_v1_training.json`` an Adam and
StepLR training state after 4 steps and floats of every kind.
"""

from __future__ import annotations

import json
import math
import os
import random
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradx import Value, load, save
from microgradx.checkpoint import INT_MAX, INT_MIN, CheckpointError
from microgradx.nn import MLP
from microgradx.optim import Adam, StepLR

DATA = Path(__file__).parent / "data"


def _bits(x: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", x))[0])


def _params(model: MLP) -> list[int]:
    return [_bits(p.data) for p in model.parameters()]


def _each_change(path: Path, positions: list[int], values: Any) -> Any:
    """Yield ``(position, byte)`` after writing ``byte`` at ``position`` of ``path`` (in
    place, the rest of the file unchanged); the file is restored at the end."""
    original = path.read_bytes()
    fd = os.open(path, os.O_RDWR)
    try:
        for i in positions:
            for b in values(i):
                if b != original[i]:
                    os.pwrite(fd, bytes([b]), i)
                    yield i, b
            os.pwrite(fd, original[i : i + 1], i)
    finally:
        os.close(fd)
    assert path.read_bytes() == original


def _refused_and_untouched(path: Path, model: MLP) -> None:
    before = _params(model)
    with pytest.raises(CheckpointError):
        model.load_state_dict(load(path))
    assert _params(model) == before


def test_every_change_of_every_byte_is_refused(tmp_path: Path) -> None:
    # one neuron's file: all 255 other values at each of its 273 bytes
    path = tmp_path / "neuron.json"
    save(MLP(2, [1], seed=0).state_dict(), path)
    assert load(path) == MLP(2, [1], seed=0).state_dict()
    size = path.stat().st_size
    model = MLP(2, [1], seed=1)
    before = _params(model)
    changes = 0
    for i, b in _each_change(path, list(range(size)), lambda i: range(256)):
        try:
            model.load_state_dict(load(path))
        except CheckpointError:
            changes += 1
        else:  # pragma: no cover - the failure this test exists to catch
            pytest.fail(f"byte {i} changed to {b:#04x} loaded without an error")
        assert _params(model) == before
    assert changes == 255 * size


def test_sampled_changes_of_a_training_checkpoint_are_refused(tmp_path: Path) -> None:
    # model, Adam state with int keys, scheduler, special floats: 3000 random changes
    model = MLP(2, [4, 1], seed=0)
    optimizer = Adam(model.parameters(), lr=0.05, amsgrad=True)
    scheduler = StepLR(optimizer, 2, 0.5)
    for p in model.parameters():
        p.grad = 0.25
    optimizer.step()
    scheduler.step()
    path = tmp_path / "ckpt.json"
    obj = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "floats": [math.nan, -math.inf, -0.0, 5e-324],
        "$odd keys": {"$x": 1, 2: "two"},
    }
    save(obj, path)
    rng = random.Random(13)
    size = path.stat().st_size
    positions = [rng.randrange(size) for _ in range(3000)]
    target = MLP(2, [4, 1], seed=1)
    for _ in _each_change(path, positions, lambda i: [rng.randrange(256)]):
        with pytest.raises(CheckpointError):
            target.load_state_dict(load(path)["model"])
    assert load(path)["optimizer"]["state"] == optimizer.state_dict()["state"]


def test_whitespace_and_spelling_changes_are_refused_too(tmp_path: Path) -> None:
    # JSON that means the same is still not the file that was written
    path = tmp_path / "m.json"
    save({"w": [0.5, 1.0], "n": 3}, path)
    text = path.read_text(encoding="utf-8")
    variants = {
        "indent": text.replace('\n "data"', '\n  "data"'),
        "CRLF": text.replace("\n", "\r\n"),
        "no final newline": text[:-1],
        "compact": json.dumps(json.loads(text)) + "\n",
        "exponent": text.replace("0.5", "5e-1"),
        "trailing zero": text.replace("0.5", "0.50"),
    }
    for name, variant in variants.items():
        assert variant != text, name
        path.write_text(variant, encoding="utf-8", newline="")
        with pytest.raises(CheckpointError, match=r"changed after it was written|malformed"):
            load(path)


def test_a_consistent_forgery_needs_the_digest(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    save({"w": 0.25}, path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("0.25", "0.75"), encoding="utf-8")
    with pytest.raises(CheckpointError, match="does not match its SHA-256 digest"):
        load(path)
    document = json.loads(text)
    assert document["version"] == 2 and len(document["sha256"]) == 64
    document["sha256"] = "0" * 64
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    with pytest.raises(CheckpointError, match="does not match its SHA-256 digest"):
        load(path)
    document["sha256"] = "not hex"
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    with pytest.raises(CheckpointError, match="not a SHA-256 digest"):
        load(path)
    del document["sha256"]
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    with pytest.raises(CheckpointError, match="fields format, version, sha256 and data"):
        load(path)


def test_the_digest_is_sha256_of_the_canonical_data(tmp_path: Path) -> None:
    # documented, so that other tools can check a checkpoint
    import hashlib

    path = tmp_path / "m.json"
    save({"w": [0.1, math.inf], "é": 1}, path)
    document = json.loads(path.read_text(encoding="utf-8"))
    canonical = json.dumps(document["data"], separators=(",", ":"), ensure_ascii=False)
    assert document["sha256"] == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert list(document) == ["format", "version", "sha256", "data"]


def _v1(data_text: str) -> bytes:
    return ('{"format": "microgradx-checkpoint", "version": 1, "data": ' + data_text + "}").encode()


MALFORMED_NUMBERS = [
    ("5" * 5000, "5000 digits"),
    ("-" + "9" * 30, "not an int of 64 bits"),
    (str(2**63), "not an int of 64 bits"),
    (str(-(2**63) - 1), "not an int of 64 bits"),
    ("-0", "not as save"),
    ("1e999", "out of the range of a float"),
    ("-1e999", "out of the range of a float"),
    ("1" * 400 + ".0", "out of the range of a float"),
    ("1.50", "writes this float as 1.5"),
    ("1E5", "writes this float as 100000.0"),
    ("0.1000000000000000055511151231257827", "writes this float as 0.1"),
    ("1e-999", "writes this float as 0.0"),
    ("-0.0e0", "writes this float as -0.0"),
]


@pytest.mark.parametrize(("literal", "message"), MALFORMED_NUMBERS)
def test_every_malformed_number_is_a_checkpoint_error(
    tmp_path: Path, literal: str, message: str
) -> None:
    path = tmp_path / "n.json"
    model = MLP(1, [1], seed=0)
    for data in (literal, "[1, " + literal + "]", '{"layers.0.neurons.0.b": ' + literal + "}"):
        path.write_bytes(_v1(data))
        with pytest.raises(CheckpointError, match=message):
            load(path)
    path.write_bytes(_v1('{"$int_keys": {"' + literal + '": 1}}'))
    with pytest.raises(CheckpointError, match="is not an int key"):
        load(path)
    _refused_and_untouched(path, model)


def test_numbers_at_the_edges_of_their_range_load(tmp_path: Path) -> None:
    path = tmp_path / "n.json"
    edges = [INT_MIN, INT_MAX, 0, -1, 1.7976931348623157e308, 5e-324, -0.0, 1e16, 1e-7]
    save(edges, path)
    assert load(path) == edges
    assert [_bits(x) for x in load(path)[4:]] == [_bits(x) for x in edges[4:]]


def test_save_refuses_ints_that_load_would_refuse(tmp_path: Path) -> None:
    path = tmp_path / "n.json"
    with pytest.raises(ValueError, match=r"obj\['step'\] is an int of more than 64 bits"):
        save({"step": 2**63}, path)
    with pytest.raises(ValueError, match="a key of obj is an int of more than 64 bits"):
        save({-(2**63) - 1: 0}, path)
    with pytest.raises(ValueError, match="not valid Unicode"):
        save({"name": "\ud800"}, path)
    assert list(tmp_path.iterdir()) == []


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    for data in (
        '{"a": 1, "a": 2}',
        '{"$dict": [["a", 1], ["a", 2]]}',
        '{"$dict": [[1, 1], [1, 2]]}',
    ):
        path.write_bytes(_v1(data))
        with pytest.raises(CheckpointError, match="appears twice"):
            load(path)


def test_malformed_nan_bits_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    for bits in (
        "0xFFF8000000000001",
        "0xfff80000000000001",
        "fff8000000000001",
        "0x7ff8000000000000",
        7,
    ):
        path.write_bytes(_v1(json.dumps({"$float": "nan", "bits": bits})))
        with pytest.raises(CheckpointError, match="malformed NaN bits"):
            load(path)


# -- files written before the digest existed -----------------------------------------------


def test_a_version_1_model_file_still_loads() -> None:
    path = DATA / "checkpoint_v1_model.json"
    assert json.loads(path.read_text())["version"] == 1
    model = MLP(2, [3, 1], seed=5)
    model.load_state_dict(load(path))
    assert _params(model) == _params(MLP(2, [3, 1], seed=0))


def test_a_version_1_training_file_still_loads_and_resumes() -> None:
    back = load(DATA / "checkpoint_v1_training.json")
    assert sorted(back) == [
        "floats",
        "keys",
        "none",
        "optimizer",
        "params",
        "scheduler",
        "step",
        "tuple",
    ]
    nan_payload = struct.unpack("<d", struct.pack("<Q", 0xFFF8000000000001))[0]
    expected = [0.1, -0.0, 5e-324, math.inf, -math.inf, math.nan, nan_payload]
    assert [_bits(x) for x in back["floats"]] == [_bits(x) for x in expected]
    assert back["keys"] == {"$x": 1, "mixed": {1: "one", "one": 1}}
    assert (back["tuple"], back["none"], back["step"]) == ([1, 2], None, 4)
    assert sorted(back["optimizer"]["state"]) == [0, 1]
    assert back["optimizer"]["state"][0]["step"] == 4.0
    # it resumes the run that wrote it: 4 more steps give the numbers of 8 steps in a row
    ps = [Value(x) for x in back["params"]]
    opt = Adam(ps, lr=0.1, amsgrad=True)
    sched = StepLR(opt, 3, 0.5)
    opt.load_state_dict(back["optimizer"])
    sched.load_state_dict(back["scheduler"])
    ref = [Value(0.5), Value(-0.25)]
    ref_opt = Adam(ref, lr=0.1, amsgrad=True)
    ref_sched = StepLR(ref_opt, 3, 0.5)
    for params, o, s, steps in ((ref, ref_opt, ref_sched, 8), (ps, opt, sched, 4)):
        for _ in range(steps):
            o.zero_grad()
            a, b = params
            ((a - 1) ** 2 + 3 * (b + 2) ** 2 + a * b).backward()
            o.step()
            s.step()
    assert [p.data for p in ps] == [p.data for p in ref]


def test_a_version_1_file_is_checked_for_all_but_the_digest(tmp_path: Path) -> None:
    text = (DATA / "checkpoint_v1_model.json").read_text()
    path = tmp_path / "old.json"
    path.write_text(text.replace("{\n", '{\n "sha256": "' + "0" * 64 + '",\n', 1))
    with pytest.raises(CheckpointError, match="fields format, version and data"):
        load(path)
    path.write_text(text.replace('"version": 1', '"version": 2'))
    with pytest.raises(CheckpointError, match="fields format, version, sha256 and data"):
        load(path)
    path.write_text(text.replace("0.0", "0.00", 1))
    with pytest.raises(CheckpointError, match=r"malformed number 0\.00"):
        load(path)


# -- what save writes, load reads ------------------------------------------------------------

_leaves = (
    st.none()
    | st.booleans()
    | st.integers(INT_MIN, INT_MAX)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
_keys = st.text(max_size=6) | st.integers(INT_MIN, INT_MAX)
_trees = st.recursive(
    _leaves,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(_keys, kids, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(_trees)
def test_anything_save_writes_loads_back_equal(obj: Any) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "c.json")
        save(obj, path)
        back = load(path)
    assert _canonical(back) == _canonical(obj)


def _canonical(obj: Any) -> Any:
    # floats by their bits (nan == nan, -0.0 != 0.0), dicts by their items in order
    if isinstance(obj, float):
        return ("float", _bits(obj))
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, dict):
        return [("dict", type(k).__name__, k, _canonical(v)) for k, v in obj.items()]
    return (type(obj).__name__, obj)
