"""Checkpoints: :func:`save` writes a state dict as readable JSON, :func:`load` reads it back.

The file is a JSON object with a format marker and version around the data:

    {
      "format": "microgradx-checkpoint",
      "version": 1,
      "data": {"model": {"layers.0.neurons.0.w.0": 0.2355057139029413, ...}, ...}
    }

What the data may hold: ``dict`` (string or int keys), ``list``, ``tuple`` (comes back as
a list), ``str``, ``int``, ``bool``, ``None`` and ``float``. Floats are written as JSON
numbers in Python's shortest round-trip form (``repr``), so each one reads back as the
same 64-bit float, ``-0.0`` included. JSON has no ``nan`` or ``inf``, so those are
written as ``{"$float": "nan"}``, ``{"$float": "inf"}`` or ``{"$float": "-inf"}`` (a NaN
with a non-default bit pattern also records its bits). A dict whose keys are ints, such
as an optimizer's ``state``, is written as ``{"$int_keys": {"0": ...}}``; any other dict
that JSON cannot hold as it is (a key starting with ``$``) as ``{"$dict": [[key, value],
...]}``.

The write is atomic: the JSON goes to a temporary file in the same folder, is flushed to
disk, and then replaces ``path`` in one step, so a crash never leaves a half-written
checkpoint. Loading parses JSON only and never executes code (no pickle). A file that is
not a checkpoint, is truncated or holds values of the wrong kind raises
:class:`CheckpointError` (a ``ValueError``), and the model's own ``load_state_dict``
refuses names or sizes that do not match, before changing anything.

>>> import os, tempfile
>>> from microgradx import save, load
>>> from microgradx.nn import MLP
>>> model = MLP(2, [4, 1], seed=0)
>>> path = os.path.join(tempfile.mkdtemp(), "model.json")
>>> save(model.state_dict(), path)
>>> copy = MLP(2, [4, 1], seed=1)
>>> copy.load_state_dict(load(path))
>>> [p.data for p in copy.parameters()] == [p.data for p in model.parameters()]
True
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import secrets
import struct
from typing import Any

__all__ = ["FORMAT", "VERSION", "CheckpointError", "load", "save"]

#: the value of the ``"format"`` field that marks a microgradx checkpoint
FORMAT = "microgradx-checkpoint"
#: the newest format version this code writes and reads
VERSION = 1

_CANONICAL_NAN_BITS = struct.unpack("<Q", struct.pack("<d", math.nan))[0]


class CheckpointError(ValueError):
    """A file is not a readable microgradx checkpoint (foreign, truncated, corrupt)."""


# -- encoding ---------------------------------------------------------------------------------


def _bits(x: float) -> int:
    return int(struct.unpack("<Q", struct.pack("<d", x))[0])


def _encode_float(x: float) -> Any:
    if math.isfinite(x):
        return x
    if math.isnan(x):
        bits = _bits(x)
        if bits == _CANONICAL_NAN_BITS:
            return {"$float": "nan"}
        return {"$float": "nan", "bits": f"0x{bits:016x}"}
    return {"$float": "inf" if x > 0 else "-inf"}


def _encode(obj: Any, where: str, active: set[int]) -> Any:
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        return _encode_float(float(obj))
    if isinstance(obj, (list, tuple, dict)):
        if id(obj) in active:
            raise ValueError(f"save(): {where} contains itself; a checkpoint must be a tree")
        active.add(id(obj))
        try:
            if isinstance(obj, dict):
                return _encode_dict(obj, where, active)
            return [_encode(v, f"{where}[{i}]", active) for i, v in enumerate(obj)]
        finally:
            active.discard(id(obj))
    hint = ""
    if hasattr(obj, "state_dict"):
        hint = f"; save {type(obj).__name__}.state_dict() instead"
    raise TypeError(
        f"save(): {where} is a {type(obj).__name__}; a checkpoint holds dicts, lists, "
        f"str, int, float, bool and None{hint}"
    )


def _encode_dict(obj: dict[Any, Any], where: str, active: set[int]) -> Any:
    keys = list(obj)
    for k in keys:
        if isinstance(k, bool) or not isinstance(k, (str, int)):
            raise TypeError(
                f"save(): {where} has a key of type {type(k).__name__}; keys must be str or int"
            )
    items = [(k, _encode(obj[k], f"{where}[{k!r}]", active)) for k in keys]
    if all(isinstance(k, str) and not k.startswith("$") for k in keys):
        return dict(items)
    if all(isinstance(k, int) for k in keys):
        return {"$int_keys": {str(int(k)): v for k, v in items}}
    return {"$dict": [[k, v] for k, v in items]}


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write ``obj`` (a state dict, or a dict of several) to ``path`` as a JSON checkpoint.

    The file is replaced atomically; on any error (an unsupported value, a full disk)
    an existing file at ``path`` is left as it was.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"save(): path must be a str or os.PathLike, got {type(path).__name__}")
    document = {"format": FORMAT, "version": VERSION, "data": _encode(obj, "obj", set())}
    text = json.dumps(document, indent=1, allow_nan=False, ensure_ascii=False) + "\n"
    target = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(target))
    # a new file of our own next to the target ("x": never an existing one); unlike
    # tempfile.mkstemp it gets the usual permissions (umask), as a plain open() would
    tmp = os.path.join(folder, f".{name}.{secrets.token_hex(6)}.tmp")
    f = open(tmp, "x", encoding="utf-8")  # noqa: SIM115 - closed in the try below
    try:
        with f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# -- decoding ---------------------------------------------------------------------------------


def _decode(obj: Any, where: str) -> Any:
    if obj is None or isinstance(obj, (bool, str, int, float)):
        return obj
    if isinstance(obj, list):
        return [_decode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if not isinstance(obj, dict):  # pragma: no cover - json.loads makes nothing else
        raise CheckpointError(f"{where}: unexpected {type(obj).__name__}")
    tags = [k for k in obj if k.startswith("$")]
    if not tags:
        return {k: _decode(v, f"{where}[{k!r}]") for k, v in obj.items()}
    if tags == ["$float"]:
        return _decode_float(obj, where)
    if list(obj) == ["$int_keys"] and isinstance(obj["$int_keys"], dict):
        out: dict[Any, Any] = {}
        for k, v in obj["$int_keys"].items():
            try:
                key = int(k)
            except ValueError:
                raise CheckpointError(f"{where}: {k!r} is not an int key") from None
            out[key] = _decode(v, f"{where}[{key}]")
        return out
    if list(obj) == ["$dict"] and isinstance(obj["$dict"], list):
        pairs: dict[Any, Any] = {}
        for item in obj["$dict"]:
            if (
                not isinstance(item, list)
                or len(item) != 2
                or isinstance(item[0], bool)
                or not isinstance(item[0], (str, int))
            ):
                raise CheckpointError(f"{where}: a '$dict' entry must be a [key, value] pair")
            pairs[item[0]] = _decode(item[1], f"{where}[{item[0]!r}]")
        return pairs
    raise CheckpointError(f"{where}: unknown tagged value with keys {sorted(obj)}")


def _decode_float(obj: dict[str, Any], where: str) -> float:
    name = obj["$float"]
    extra = set(obj) - {"$float", "bits"}
    if extra or (set(obj) == {"$float", "bits"} and name != "nan"):
        raise CheckpointError(f"{where}: malformed float {obj!r}")
    if name == "inf":
        return math.inf
    if name == "-inf":
        return -math.inf
    if name != "nan":
        raise CheckpointError(f"{where}: {name!r} is not 'nan', 'inf' or '-inf'")
    bits = obj.get("bits")
    if bits is None:
        return math.nan
    try:
        value = struct.unpack("<d", struct.pack("<Q", int(bits, 16)))[0]
    except (TypeError, ValueError, struct.error):
        raise CheckpointError(f"{where}: malformed NaN bits {bits!r}") from None
    if not math.isnan(value):
        raise CheckpointError(f"{where}: bits {bits!r} are not a NaN")
    return float(value)


def load(path: str | os.PathLike[str]) -> Any:
    """Read a checkpoint written by :func:`save` and return the object it holds.

    Raises :class:`CheckpointError` (a ``ValueError``) when the file is not a microgradx
    checkpoint, is truncated or corrupt, or was written by a newer format version.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load(): path must be a str or os.PathLike, got {type(path).__name__}")
    name = os.fspath(path)
    with open(name, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError(f"{name!r} is not a microgradx checkpoint (not UTF-8 text)") from None
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as e:
        raise CheckpointError(
            f"{name!r} is not a complete JSON checkpoint ({e.msg} at line {e.lineno}, "
            f"column {e.colno}); the file may be truncated or not a checkpoint"
        ) from None
    except CheckpointError as e:
        raise CheckpointError(f"{name!r} is not a microgradx checkpoint: {e}") from None
    except RecursionError:
        raise CheckpointError(f"{name!r} is nested too deeply to be a checkpoint") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(
            f'{name!r} is not a microgradx checkpoint (no "format": "{FORMAT}" field)'
        )
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{name!r}: bad format version {version!r}")
    if version > VERSION:
        raise CheckpointError(
            f"{name!r} was written in checkpoint format version {version}; this microgradx "
            f"reads versions up to {VERSION}: upgrade microgradx"
        )
    if set(document) != {"format", "version", "data"}:
        raise CheckpointError(
            f"{name!r}: expected the fields format, version and data, got {sorted(document)}"
        )
    try:
        return _decode(document["data"], "data")
    except CheckpointError as e:
        raise CheckpointError(f"{name!r}: {e}") from None
    except RecursionError:
        raise CheckpointError(f"{name!r} is nested too deeply to be a checkpoint") from None


def _refuse_constant(name: str) -> float:
    # JSON has no NaN / Infinity; a file using them was not written by save()
    raise CheckpointError(f"non-standard JSON constant {name!r}")
