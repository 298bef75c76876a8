"""The binary tensor data extension: raw tensors after the JSON header, both directions."""

import json
import struct

import numpy as np
import pytest

from dlbench.errors import UserError
from dlbench.serve import binary
from dlbench.serve.predictor import TensorSpec
from dlbench.serve.protocol import parse_request
from dlbench.serve.tensors import decode_input, encode_output


def body(inputs, blob, **extra):
    head = json.dumps({"inputs": inputs, **extra}).encode()
    return head + blob, str(len(head))


def test_binary_inputs_round_trip_with_json_inputs_mixed_in():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    words = ["héllo", "w"]
    word_bytes = b"".join(struct.pack("<I", len(w.encode())) + w.encode() for w in words)
    raw, header = body(
        [{"name": "x", "shape": [2, 3], "datatype": "FP32", "parameters": {"binary_data_size": 24}},
         {"name": "j", "shape": [1], "datatype": "INT64", "data": [5]},
         {"name": "t", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": len(word_bytes)}},
         {"name": "m", "shape": [2], "datatype": "BOOL", "parameters": {"binary_data_size": 2}}],
        x.tobytes() + word_bytes + b"\x01\x00",
    )
    request, blobs = binary.read_request(raw, header)
    assert set(blobs) == {"x", "t", "m"}
    got = decode_input(request.inputs[0], TensorSpec("x", "FP32", (-1, 3)), blobs["x"])
    np.testing.assert_array_equal(got, x)
    assert got.flags.writeable
    assert decode_input(request.inputs[2], TensorSpec("t", "BYTES", (-1,)), blobs["t"]).tolist() == words
    assert decode_input(request.inputs[3], TensorSpec("m", "BOOL", (-1,)), blobs["m"]).tolist() == [True, False]


@pytest.mark.parametrize(
    "size, blob, header, expected",
    [
        (24, b"\0" * 20, None, "runs past the end"),
        (24, b"\0" * 24 + b"xx", None, "belong to no input"),
        (20, b"\0" * 20, None, "needs 24 bytes of FP32, got 20"),
        (-3, b"", None, "non-negative integer"),
        (24, b"\0" * 24, "abc", "Inference-Header-Content-Length must be an integer"),
        (24, b"\0" * 24, "999999", "Inference-Header-Content-Length must be an integer"),
        (24, np.full(6, np.nan, dtype=np.float32).tobytes(), None, "finite"),
    ],
)
def test_bad_binary_inputs(size, blob, header, expected):
    raw, good_header = body([{"name": "x", "shape": [2, 3], "datatype": "FP32", "parameters": {"binary_data_size": size}}], blob)
    with pytest.raises(UserError) as err:
        request, blobs = binary.read_request(raw, header or good_header)
        decode_input(request.inputs[0], TensorSpec("x", "FP32", (-1, 3)), blobs["x"])
    assert expected in err.value.line()


def test_bad_bytes_and_bool_payloads():
    spec = TensorSpec("t", "BYTES", (-1,))
    for blob, msg in [(b"\x05\x00", "length prefix"), (struct.pack("<I", 9) + b"abc", "longer than"),
                      (struct.pack("<I", 2) + b"\xff\xfe", "UTF-8"), (struct.pack("<I", 1) + b"a", "needs 2 elements")]:
        raw, header = body([{"name": "t", "shape": [2], "datatype": "BYTES", "parameters": {"binary_data_size": len(blob)}}], blob)
        request, blobs = binary.read_request(raw, header)
        with pytest.raises(UserError, match=msg):
            decode_input(request.inputs[0], spec, blobs["t"])
    raw, header = body([{"name": "m", "shape": [1], "datatype": "BOOL", "parameters": {"binary_data_size": 1}}], b"\x07")
    request, blobs = binary.read_request(raw, header)
    with pytest.raises(UserError, match="0 or 1"):
        decode_input(request.inputs[0], TensorSpec("m", "BOOL", (-1,)), blobs["m"])


def test_which_outputs_go_binary():
    req = parse_request(json.dumps({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}],
                                    "parameters": {"binary_data_output": True},
                                    "outputs": [{"name": "a"}, {"name": "b", "parameters": {"binary_data": False}}]}))
    assert binary.binary_outputs(req, ["a", "b", "c"]) == {"a", "c"}
    req = parse_request(json.dumps({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}],
                                    "outputs": [{"name": "a", "parameters": {"binary_data": True}}]}))
    assert binary.binary_outputs(req, ["a"]) == {"a"}


def test_encode_binary_outputs():
    entry, blob = encode_output("p", np.array([[1.5, 2.0]], dtype=np.float64), TensorSpec("p", "FP32", (-1, 2)), True)
    assert entry == {"name": "p", "shape": [1, 2], "datatype": "FP32", "parameters": {"binary_data_size": 8}}
    assert np.frombuffer(blob, dtype="<f4").tolist() == [1.5, 2.0]
    entry, blob = encode_output("t", np.array(["ab", b"c"], dtype=object), TensorSpec("t", "BYTES", (-1,)), True)
    assert blob == struct.pack("<I", 2) + b"ab" + struct.pack("<I", 1) + b"c"
    response = binary.response({"outputs": [entry]}, [blob])
    head_len = int(response.headers[binary.HEADER])
    assert json.loads(response.body[:head_len])["outputs"][0]["parameters"]["binary_data_size"] == len(blob)
    assert response.body[head_len:] == blob
