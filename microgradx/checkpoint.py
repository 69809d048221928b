"""Checkpoints: `save` writes a state dict as readable JSON, `load` reads it back.

The file is a JSON object with a format marker, a version and an integrity digest around
the data:

    {
     "format": "microgradx-checkpoint",
     "version": 2,
     "sha256": "5f0c...",
     "data": {"layers.0.neurons.0.w.0": 0.2355057139029413, ...}
    }

What the data may hold: `dict` (string or int keys), `list`, `tuple` (comes back as
a list), `str`, `int` (64-bit: from `-2**63` to `2**63 - 1`), `bool`, `None`
and `float`. Floats are written as JSON numbers in Python's shortest round-trip form
(`repr`), so each one reads back as the same 64-bit float, `-0.0` included. JSON has
no `nan` or `inf`, so those are written as `{"$float": "nan"}`, `{"$float": "inf"}`
or `{"$float": "-inf"}` (a NaN with a non-default bit pattern also records its bits). A
dict whose keys are ints, such as an optimizer's `state`, is written as ``{"$int_keys":
{"0": ...}}`; any other dict that JSON cannot hold as it is (a key starting with `$``) as
`{"$dict": [[key, value], ...]}`.

Integrity: `"sha256"` is the SHA-256 of the `data` value in canonical form, the UTF-8
bytes of `json.dumps(data, separators=(",", ":"), ensure_ascii=False)`. `load` checks
it, and checks that the file is, byte for byte, the text `save` writes for what it holds
(so a change of layout, line endings or number spelling is seen too): any changed byte
raises `CheckpointError`. Files of version 1 (written before the digest existed) have no
`"sha256"` and still load; they are checked for everything but the digest.

The write is atomic: the JSON goes to a temporary file in the same folder, is flushed to
disk, and then replaces `path` in one step, so a crash never leaves a half-written
checkpoint. Loading parses JSON only and never executes code (no pickle). A file that is
not a checkpoint, is truncated, changed or corrupt, holds a number `save` does not write
(an int beyond 64 bits, `1e999`, `1.50`) or values of the wrong kind raises
`CheckpointError` (a `ValueError`) before anything is returned, and the model's own
`load_state_dict` refuses names or sizes that do not match, before changing anything.

Examples:
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
import hashlib
import json
import math
import numbers
import os
import secrets
import struct
from typing import Any

__all__ = ["FORMAT", "VERSION", "CheckpointError", "load", "save"]

#: the value of the `"format"` field that marks a microgradx checkpoint
FORMAT = "microgradx-checkpoint"
#: the format version this code writes; it reads every version up to this one (version 1
#: has no digest, version 2 adds `"sha256"`)
VERSION = 2
#: the ints a checkpoint holds (64-bit signed); others are refused on save and on load
INT_MIN, INT_MAX = -(2**63), 2**63 - 1

_CANONICAL_NAN_BITS = struct.unpack("<Q", struct.pack("<d", math.nan))[0]


class CheckpointError(ValueError):
    """A file is not a readable microgradx checkpoint (foreign, truncated, changed, corrupt)."""


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
        return _checked_int(int(obj), where)
    if isinstance(obj, float) or (
        isinstance(obj, numbers.Real) and type(obj).__module__.startswith("numpy")
    ):
        return _encode_float(float(obj))
    if isinstance(obj, numbers.Real):  # a Fraction or an mpmath number: not a float
        raise TypeError(
            f"save(): {where} is a {type(obj).__name__}; a checkpoint holds floats, so convert "
            "exact or high-precision numbers with float() first"
        )
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


def _checked_int(n: int, where: str) -> int:
    if not INT_MIN <= n <= INT_MAX:
        raise ValueError(
            f"save(): {where} is an int of more than 64 bits; a checkpoint holds ints from "
            "-2**63 to 2**63 - 1 (save a larger number as a str)"
        )
    return n


def _encode_dict(obj: dict[Any, Any], where: str, active: set[int]) -> Any:
    keys = list(obj)
    for k in keys:
        if isinstance(k, bool) or not isinstance(k, (str, int)):
            raise TypeError(
                f"save(): {where} has a key of type {type(k).__name__}; keys must be str or int"
            )
        if isinstance(k, int):
            _checked_int(int(k), f"a key of {where}")
    items = [(k, _encode(obj[k], f"{where}[{k!r}]", active)) for k in keys]
    if all(isinstance(k, str) and not k.startswith("$") for k in keys):
        return dict(items)
    if all(isinstance(k, int) for k in keys):
        return {"$int_keys": {str(int(k)): v for k, v in items}}
    return {"$dict": [[k, v] for k, v in items]}


def _digest(data: Any) -> str:
    """SHA-256 (hex) of the encoded data in canonical form: compact JSON, UTF-8."""
    canonical = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _render(document: dict[str, Any]) -> str:
    """The text of a checkpoint file: what `save` writes and `load` expects, to the byte."""
    return json.dumps(document, indent=1, allow_nan=False, ensure_ascii=False) + "\n"


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write `obj` (a state dict, or a dict of several) to `path` as a JSON checkpoint.

    The file holds the data and its SHA-256 digest (format version 2). It is replaced
    atomically; on any error (an unsupported value, a full disk) an existing file at
    `path` is left as it was.

    Args:
        obj: dicts, lists, tuples, str, 64-bit int, float, bool and None, nested.
        path: the file to write.

    Raises:
        TypeError: `obj` holds another type (a model: save its `state_dict()`).
        ValueError: `obj` contains itself, an int beyond 64 bits or a str that is not
            valid Unicode.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"save(): path must be a str or os.PathLike, got {type(path).__name__}")
    data = _encode(obj, "obj", set())
    try:
        document = {"format": FORMAT, "version": VERSION, "sha256": _digest(data), "data": data}
        text = _render(document)
    except UnicodeEncodeError:
        raise ValueError(
            "save(): obj holds a str that is not valid Unicode (a lone surrogate); it "
            "cannot be written as UTF-8"
        ) from None
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

_HEX_DIGEST = frozenset("0123456789abcdef")


def _parse_int(text: str) -> int:
    # the length test first: int() of a 5000-digit literal is slow or refused by Python
    if len(text) > 20 or not INT_MIN <= int(text) <= INT_MAX:
        shown = text if len(text) <= 24 else f"{text[:10]}...{text[-10:]} ({len(text)} digits)"
        raise CheckpointError(f"malformed number {shown}: not an int of 64 bits")
    if str(int(text)) != text:  # "-0": save writes no such spelling
        raise CheckpointError(f"malformed number {text}: not as save() writes an int")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: save writes {"$float": "inf"}
        shown = text if len(text) <= 24 else f"{text[:20]}..."
        raise CheckpointError(f"malformed number {shown}: out of the range of a float")
    if repr(value) != text:  # 1.50, 1E5, 0.1000000000000000055: not save's spelling
        shown = text if len(text) <= 24 else f"{text[:20]}..."
        raise CheckpointError(f"malformed number {shown}: save() writes this float as {value!r}")
    return value


def _refuse_constant(name: str) -> float:
    # JSON has no NaN / Infinity; a file using them was not written by save()
    raise CheckpointError(f"non-standard JSON constant {name!r}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:  # json.loads would keep the last one silently
            raise CheckpointError(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


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
                key = _parse_int(k)
            except (CheckpointError, ValueError):
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
            if item[0] in pairs:
                raise CheckpointError(f"{where}: the key {item[0]!r} appears twice")
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
    if "bits" not in obj:
        return math.nan
    bits = obj["bits"]
    # save writes 0x and 16 lowercase hex digits, and only for a NaN that is not the default
    if not (
        isinstance(bits, str)
        and len(bits) == 18
        and bits.startswith("0x")
        and set(bits[2:]) <= _HEX_DIGEST
        and int(bits, 16) != _CANONICAL_NAN_BITS
    ):
        raise CheckpointError(f"{where}: malformed NaN bits {bits!r}")
    value = struct.unpack("<d", struct.pack("<Q", int(bits, 16)))[0]
    if not math.isnan(value):
        raise CheckpointError(f"{where}: bits {bits!r} are not a NaN")
    return float(value)


def _first_difference(text: str, expected: str) -> str:
    """Where `text` first differs from `expected`, as "line L, column C"."""
    i = next((k for k, (a, b) in enumerate(zip(text, expected, strict=False)) if a != b), None)
    if i is None:
        i = min(len(text), len(expected))
    line = text.count("\n", 0, i) + 1
    column = i - (text.rfind("\n", 0, i) + 1) + 1
    return f"line {line}, column {column}"


def load(path: str | os.PathLike[str]) -> Any:
    """Read a checkpoint written by `save` and return the object it holds.

    A file of version 2 must be, to the byte, what `save` wrote: its layout is checked and
    its data against its SHA-256 digest. A file of version 1 (no digest) is checked for
    everything else.

    Args:
        path: the file to read.

    Returns:
        The object saved, with tuples as lists.

    Raises:
        CheckpointError: (a `ValueError`) the file is not a microgradx checkpoint, is
            truncated, changed or corrupt, holds a malformed number, or was written by a
            newer format version.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"load(): path must be a str or os.PathLike, got {type(path).__name__}")
    name = os.fspath(path)
    with open(name, "rb") as f:
        raw = f.read()
    try:
        return _load_text(raw, repr(name))
    except RecursionError:
        raise CheckpointError(f"{name!r} is nested too deeply to be a checkpoint") from None


def _load_text(raw: bytes, name: str) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError(f"{name} is not a microgradx checkpoint (not UTF-8 text)") from None
    try:
        document = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as e:
        raise CheckpointError(
            f"{name} is not a complete JSON checkpoint ({e.msg} at line {e.lineno}, "
            f"column {e.colno}); the file may be truncated or not a checkpoint"
        ) from None
    except CheckpointError as e:
        raise CheckpointError(f"{name} is not a microgradx checkpoint: {e}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CheckpointError(
            f'{name} is not a microgradx checkpoint (no "format": "{FORMAT}" field)'
        )
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{name}: bad format version {version!r}")
    if version > VERSION:
        raise CheckpointError(
            f"{name} was written in checkpoint format version {version}; this microgradx "
            f"reads versions up to {VERSION}: upgrade microgradx"
        )
    fields = (
        ["format", "version", "data"] if version == 1 else ["format", "version", "sha256", "data"]
    )
    if set(document) != set(fields):
        raise CheckpointError(
            f"{name}: a version {version} checkpoint has the fields "
            f"{', '.join(fields[:-1])} and {fields[-1]}; this file has {', '.join(document)}"
        )
    if version >= 2:
        _check_integrity(document, text, name)
    try:
        return _decode(document["data"], "data")
    except CheckpointError as e:
        raise CheckpointError(f"{name}: {e}") from None


def _check_integrity(document: dict[str, Any], text: str, name: str) -> None:
    digest = document["sha256"]
    if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= _HEX_DIGEST:
        raise CheckpointError(f"{name}: the sha256 field is not a SHA-256 digest in hex")
    expected = _render(document)
    if text != expected:
        raise CheckpointError(
            f"{name} was changed after it was written: it differs from the text save() "
            f"writes for its content at {_first_difference(text, expected)}"
        )
    try:
        actual = _digest(document["data"])
    except UnicodeEncodeError:  # pragma: no cover - the text check sees escaped surrogates
        actual = ""
    if actual != digest:
        raise CheckpointError(
            f"{name} was changed after it was written: its data does not match its SHA-256 digest"
        )
