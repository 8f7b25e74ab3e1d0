"""One codec for every array in the store: numpy <-> self-describing little-endian bytes.

Layout: ``b"NDA1"``, one byte dtype length, the dtype string (numpy ``str``, e.g. ``<f2``),
one byte ndim, ndim little-endian uint32 dimensions, then the raw C-order data.
Keeping shape and dtype inside the blob lets one column hold one array, and lets a
reader hand the raw payload (``payload_view``) to a client without copying it.
"""

from __future__ import annotations

import struct

import numpy as np
from sqlalchemy import LargeBinary
from sqlalchemy.types import TypeDecorator

MAGIC = b"NDA1"
ALLOWED_DTYPES = {"<f2", "<f4", "<f8", "<i2", "<i4", "<i8", "|u1", "|i1", "<u2", "<u4", "|b1"}


def encode_array(array: np.ndarray) -> bytes:
    """Encode an array as little-endian bytes prefixed with its dtype and shape."""
    array = np.ascontiguousarray(array)
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    array = array.astype(dtype, copy=False)
    code = dtype.str.encode()
    if dtype.str not in ALLOWED_DTYPES:
        raise ValueError(f"unsupported array dtype {dtype.str}")
    header = MAGIC + struct.pack("<B", len(code)) + code + struct.pack("<B", array.ndim)
    header += struct.pack(f"<{array.ndim}I", *array.shape)
    return header + array.tobytes()


def _parse_header(blob: bytes) -> tuple[np.dtype, tuple[int, ...], int]:
    if blob[:4] != MAGIC:
        raise ValueError("not an encoded array")
    code_len = blob[4]
    code = blob[5 : 5 + code_len].decode()
    offset = 5 + code_len
    ndim = blob[offset]
    shape = struct.unpack_from(f"<{ndim}I", blob, offset + 1)
    return np.dtype(code), tuple(shape), offset + 1 + 4 * ndim


def decode_array(blob: bytes) -> np.ndarray:
    """Decode bytes written by :func:`encode_array` (read-only view, no copy)."""
    dtype, shape, start = _parse_header(blob)
    return np.frombuffer(blob, dtype=dtype, offset=start).reshape(shape)


def payload_view(blob: bytes) -> tuple[str, tuple[int, ...], memoryview]:
    """The dtype string, shape and raw data of an encoded array, without decoding it."""
    dtype, shape, start = _parse_header(blob)
    return dtype.str, shape, memoryview(blob)[start:]


class NDArray(TypeDecorator):
    """A column that stores one numpy array through the codec."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001, D102
        return None if value is None else encode_array(np.asarray(value))

    def process_result_value(self, value, dialect):  # noqa: ANN001, D102
        return None if value is None else decode_array(bytes(value))
