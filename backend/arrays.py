"""Typed arrays for the wire: ``{"dtype": "f4", "bdata": base64, "shape": [...]}`` as Plotly.js reads them.

Stored blobs whose dtype Plotly.js understands are base64-encoded straight from the codec's
payload view (no decode, no copy); other dtypes are converted to the nearest one it reads.
"""

from __future__ import annotations

import base64

import numpy as np

from backend.schemas import TypedArray
from store.codec import payload_view

# numpy dtype strings (as the codec stores them) -> the wire's dtype names
WIRE_DTYPES = {"<f4": "f4", "<f8": "f8", "|i1": "i1", "<i2": "i2", "<i4": "i4", "|u1": "u1", "<u2": "u2"}
# dtypes Plotly.js does not read, and what they are sent as
WIDENED = {"<f2": np.float32, "|b1": np.uint8, "<i8": np.float64, "<u4": np.float64}


def typed_array(array: np.ndarray) -> TypedArray:
    """Encode a numpy array (converted to a wire dtype where needed)."""
    array = np.asarray(array)
    code = array.dtype.newbyteorder("<").str if array.dtype.byteorder == ">" else array.dtype.str
    if code not in WIRE_DTYPES:
        if code not in WIDENED:
            raise ValueError(f"no wire dtype for {array.dtype}")
        array = array.astype(WIDENED[code])
        code = array.dtype.str
    data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return _wire(WIRE_DTYPES[code], data.shape, base64.b64encode(data.data).decode("ascii"))


def typed_blob(blob: bytes) -> TypedArray:
    """Encode a stored codec blob, straight from its raw bytes when the dtype allows it."""
    code, shape, payload = payload_view(blob)
    if code in WIRE_DTYPES:
        return _wire(WIRE_DTYPES[code], shape, base64.b64encode(payload).decode("ascii"))
    return typed_array(np.frombuffer(payload, dtype=code).reshape(shape))


def typed_blob_or_none(blob: bytes | None) -> TypedArray | None:
    """:func:`typed_blob`, passing a missing array through as None."""
    return None if blob is None else typed_blob(blob)


def decode_typed(array: TypedArray) -> np.ndarray:
    """The numpy array a typed array stands for (what a client does; used by tests and tools)."""
    values = np.frombuffer(base64.b64decode(array.bdata), dtype="<" + array.dtype)
    return values.reshape(array.shape) if array.shape else values


def _wire(dtype: str, shape: tuple[int, ...], bdata: str) -> TypedArray:
    wire_shape = list(shape) if len(shape) != 1 else None
    return TypedArray.model_construct(dtype=dtype, bdata=bdata, shape=wire_shape)
