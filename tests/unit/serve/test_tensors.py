"""JSON tensor decoding/encoding: every way a client can get a tensor wrong names what was expected."""

import numpy as np
import pytest

from dlbench.errors import UserError
from dlbench.serve.predictor import TensorSpec
from dlbench.serve.protocol import RequestInput
from dlbench.serve.tensors import decode_input, encode_output

SPEC = TensorSpec("input", "FP32", (-1, 3))


def tensor(data, shape=(2, 3), datatype="FP32", name="input"):
    return RequestInput(name=name, shape=list(shape), datatype=datatype, data=data)


def test_flat_and_nested_data_give_the_same_array():
    flat = decode_input(tensor([1, 2, 3, 4, 5, 6.5]), SPEC)
    nested = decode_input(tensor([[1, 2, 3], [4, 5, 6.5]]), SPEC)
    assert flat.dtype == np.float32 and flat.shape == (2, 3)
    np.testing.assert_array_equal(flat, nested)


@pytest.mark.parametrize(
    "request_tensor, expected",
    [
        (tensor([1, 2, 3, 4, 5]), "needs 6 values, data has 5"),
        (tensor([1] * 6, datatype="FP64"), "expected datatype FP32, got FP64"),
        (tensor([1] * 8, shape=(2, 4)), "expected shape [-1, 3]"),
        (tensor([1] * 6, shape=(6,)), "expected shape [-1, 3]"),
        (tensor([1, 2, "x", 4, 5, 6]), "FP32 expects JSON numbers"),
        (tensor([1, 2, True, 4, 5, 6]), "FP32 expects JSON numbers"),
        (tensor([[1, 2], [3, 4, 5, 6]]), "nested data does not match shape"),
        (tensor([[1, 2, 3], 4, 5, 6], shape=(2, 3)), "nested data does not match shape"),
        (tensor([], shape=(0, 3)), "holds no elements"),
        (tensor([1e39] * 6), "within ±3.40282e+38 for FP32"),
        (tensor([float("nan")] * 6), "finite numbers"),
        (tensor([10**400] * 6), "out of range"),
    ],
)
def test_bad_tensors_say_what_was_expected(request_tensor, expected):
    with pytest.raises(UserError) as err:
        decode_input(request_tensor, SPEC)
    assert expected in err.value.line()
    assert "input 'input'" in err.value.line()


def test_missing_data_is_an_error():
    with pytest.raises(UserError, match="no data"):
        decode_input(RequestInput(name="input", shape=[1, 3], datatype="FP32"), SPEC)


def test_integer_types_refuse_floats_bools_and_out_of_range():
    spec = TensorSpec("ids", "UINT8", (-1,))
    assert decode_input(tensor([0, 255], shape=(2,), datatype="UINT8", name="ids"), spec).dtype == np.uint8
    for data, msg in [([1.5, 2], "expects JSON integers"), ([True, 2], "expects JSON integers"),
                      ([256, 1], "must lie in [0, 255]"), ([-1, 1], "must lie in [0, 255]")]:
        with pytest.raises(UserError, match=msg.replace("[", r"\[").replace("]", r"\]")):
            decode_input(tensor(data, shape=(2,), datatype="UINT8", name="ids"), spec)


def test_bool_and_bytes():
    b = decode_input(tensor([True, False], shape=(2,), datatype="BOOL", name="m"), TensorSpec("m", "BOOL", (-1,)))
    assert b.dtype == np.bool_ and b.tolist() == [True, False]
    with pytest.raises(UserError, match="BOOL expects JSON true/false"):
        decode_input(tensor([1, 0], shape=(2,), datatype="BOOL", name="m"), TensorSpec("m", "BOOL", (-1,)))
    s = decode_input(tensor(["a b", "c"], shape=(2,), datatype="BYTES", name="t"), TensorSpec("t", "BYTES", (-1,)))
    assert s.dtype == object and s.tolist() == ["a b", "c"]
    with pytest.raises(UserError, match="BYTES expects JSON strings"):
        decode_input(tensor([1, "c"], shape=(2,), datatype="BYTES", name="t"), TensorSpec("t", "BYTES", (-1,)))


def test_deeply_nested_data_is_an_error_not_a_crash():
    deep = [1]
    for _ in range(2000):
        deep = [deep]
    # pydantic already refuses such depth at the HTTP layer; decode_input must not rely on that.
    t = RequestInput.model_construct(name="input", shape=[1], datatype="FP32", data=deep)
    with pytest.raises(UserError):
        decode_input(t, TensorSpec("input", "FP32", (-1,)))


def test_encode_output_flattens_casts_and_nulls_non_finite():
    out, blob = encode_output("p", np.array([[1.0, np.nan], [np.inf, 2.0]]), TensorSpec("p", "FP32", (-1, 2)))
    assert blob == b""
    assert out == {"name": "p", "shape": [2, 2], "datatype": "FP32", "data": [1.0, None, None, 2.0]}
    labels, _ = encode_output("l", np.array([3, 4]), TensorSpec("l", "INT64", (-1,)))
    assert labels["data"] == [3, 4] and labels["datatype"] == "INT64"
    text, _ = encode_output("t", np.array([b"caf\xc3\xa9", "x"], dtype=object), TensorSpec("t", "BYTES", (-1,)))
    assert text["data"] == ["café", "x"]
