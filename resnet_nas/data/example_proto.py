"""TFRecord files and tf.train.Example records, read in pure Python (no TensorFlow).

The search process indexes TFRecord shards (every record's offset and label) without
importing TensorFlow (seconds and hundreds of MB): the framing of a TFRecord file and the
protocol-buffer wire format of an Example are small and fixed, so they are read here.

A TFRecord file is a sequence of records:

    uint64 length (little-endian) | uint32 masked CRC-32C of length | data | uint32 CRC of data

The CRCs are not checked here (TensorFlow checks them when a trial reads the records); the
framing is, so a truncated or foreign file is an error naming it. An Example is

    Example { Features features = 1 }    Features { map<string, Feature> feature = 1 }
    Feature { oneof { BytesList bytes_list = 1; FloatList float_list = 2;
                      Int64List int64_list = 3 } }

with repeated `value = 1` in each list (int64s packed or not).
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Iterator
from typing import BinaryIO

#: Bytes of a record's header (length + its CRC) and footer (the data's CRC).
HEADER_BYTES = 12
FOOTER_BYTES = 4
#: Largest record accepted (a slim ImageNet record is about 110 KB).
MAX_RECORD_BYTES = 256 << 20


class RecordError(ValueError):
    """A file that is not TFRecord framing, or a record that is not an Example."""


def iter_records(f: BinaryIO, size: int) -> Iterator[tuple[int, int]]:
    """(offset of the record's header, data length) of each record of a TFRecord file.

    Args:
      f: the file, opened binary; it is read from its current position.
      size: the file's size in bytes.

    Raises:
      RecordError: a header that runs past the end of the file or claims an absurd length.
    """
    offset = f.tell()
    while offset < size:
        head = f.read(HEADER_BYTES)
        if len(head) < HEADER_BYTES:
            raise RecordError(f"truncated record header at byte {offset}")
        (length,) = struct.unpack("<Q", head[:8])
        end = offset + HEADER_BYTES + length + FOOTER_BYTES
        if length > MAX_RECORD_BYTES or end > size:
            raise RecordError(f"record at byte {offset} claims {length:,} bytes, past the end "
                              f"of the file ({size:,} bytes)" if end > size else
                              f"record at byte {offset} claims {length:,} bytes (at most "
                              f"{MAX_RECORD_BYTES:,})")
        yield offset, length
        offset = end
        f.seek(offset)


def read_record(path: str, offset: int) -> bytes:
    """The data of the record whose header starts at `offset` of the file `path`."""
    with open(path, "rb") as f:
        f.seek(offset)
        head = f.read(HEADER_BYTES)
        if len(head) < HEADER_BYTES:
            raise RecordError(f"{path}: truncated record header at byte {offset}")
        (length,) = struct.unpack("<Q", head[:8])
        if length > MAX_RECORD_BYTES:
            raise RecordError(f"{path}: record at byte {offset} claims {length:,} bytes")
        data = f.read(length)
    if len(data) < length:
        raise RecordError(f"{path}: record at byte {offset} is truncated")
    return data


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise RecordError("malformed varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """(field number, wire type, value) of a message: ints for varints and fixed-size
    fields, memoryviews for length-delimited ones."""
    pos = 0
    n = len(buf)
    while pos < n:
        tag, pos = _varint(buf, pos)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield field, wire, value
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > n:
                raise RecordError("length-delimited field runs past its message")
            yield field, wire, buf[pos:pos + length]
            pos += length
        elif wire == 1:
            if pos + 8 > n:
                raise RecordError("truncated 64-bit field")
            yield field, wire, int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wire == 5:
            if pos + 4 > n:
                raise RecordError("truncated 32-bit field")
            yield field, wire, int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise RecordError(f"unsupported wire type {wire}")


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _feature(buf: memoryview) -> list[bytes] | list[int] | list[float]:
    for field, wire, value in _fields(buf):
        if wire != 2 or not isinstance(value, memoryview):
            continue
        if field == 1:  # BytesList
            return [bytes(v) for f, w, v in _fields(value) if f == 1 and w == 2]
        if field == 3:  # Int64List
            out: list[int] = []
            for f, w, v in _fields(value):
                if f != 1:
                    continue
                if w == 0:
                    out.append(_signed(int(v)))  # type: ignore[arg-type]
                elif w == 2 and isinstance(v, memoryview):  # packed
                    pos = 0
                    while pos < len(v):
                        x, pos = _varint(v, pos)
                        out.append(_signed(x))
            return out
        if field == 2:  # FloatList: not needed by the reader; present as its count
            return []
    return []


def parse_example(data: bytes | memoryview, keys: Collection[str]
                  ) -> dict[str, list[bytes] | list[int] | list[float]]:
    """The features named in `keys` of a serialized tf.train.Example (others not decoded).

    Raises:
      RecordError: the data is not an Example.
    """
    buf = memoryview(data)
    out: dict[str, list[bytes] | list[int] | list[float]] = {}
    try:
        for field, wire, features in _fields(buf):
            if field != 1 or wire != 2 or not isinstance(features, memoryview):
                continue
            for f, w, entry in _fields(features):
                if f != 1 or w != 2 or not isinstance(entry, memoryview):
                    continue
                key: str | None = None
                value: memoryview | None = None
                for ef, ew, ev in _fields(entry):
                    if ef == 1 and ew == 2 and isinstance(ev, memoryview):
                        key = bytes(ev).decode("utf-8", "replace")
                    elif ef == 2 and ew == 2 and isinstance(ev, memoryview):
                        value = ev
                if key is not None and key in keys:
                    out[key] = _feature(value) if value is not None else []
    except RecordError:
        raise
    except (IndexError, ValueError) as exc:  # pragma: no cover - guarded above
        raise RecordError(f"not a tf.train.Example ({exc})") from None
    return out
