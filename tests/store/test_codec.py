"""The array codec round-trips every stored dtype and shape exactly."""

import numpy as np
import pytest

from store.codec import decode_array, encode_array, payload_view


@pytest.mark.parametrize("dtype", ["<f2", "<f4", "<f8", "<i2", "<i4", "<i8", "|u1"])
@pytest.mark.parametrize("shape", [(0,), (7,), (5, 3), (2, 3, 4)])
def test_round_trip(dtype: str, shape: tuple[int, ...]) -> None:
    array = (np.arange(int(np.prod(shape))) % 100).astype(dtype).reshape(shape)
    decoded = decode_array(encode_array(array))
    assert decoded.dtype == array.dtype and decoded.shape == shape
    np.testing.assert_array_equal(decoded, array)


def test_big_endian_input_is_stored_little_endian() -> None:
    array = np.arange(6, dtype=">f4").reshape(2, 3)
    dtype, shape, payload = payload_view(encode_array(array))
    assert dtype == "<f4" and shape == (2, 3)
    assert bytes(payload) == array.astype("<f4").tobytes()


def test_garbage_is_rejected() -> None:
    with pytest.raises(ValueError, match="not an encoded array"):
        decode_array(b"hello world")
    with pytest.raises(ValueError, match="unsupported"):
        encode_array(np.array(["a", "b"]))
