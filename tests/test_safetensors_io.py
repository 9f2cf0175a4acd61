"""nvfp4_np._safetensors against the reference ``safetensors`` package, and its errors."""

import json

import ml_dtypes
import numpy as np
import pytest

from nvfp4_np import _safetensors as st

sn = pytest.importorskip("safetensors.numpy", reason="safetensors not installed (pip install -e '.[test]')")


def _arrays():
    rng = np.random.default_rng(0)
    return {"w": rng.standard_normal((5, 16)).astype(np.float32), "h": rng.standard_normal(7).astype(np.float16),
            "i": np.arange(6, dtype=np.int64).reshape(2, 3), "u": np.arange(9, dtype=np.uint8).reshape(3, 3),
            "scalar": np.array(3.5, np.float64), "empty": np.zeros((0, 4), np.float32)}


def test_ours_read_by_package(tmp_path):
    a = _arrays()
    st.save(str(tmp_path / "x.safetensors"), a, {"format": "pt"})
    back = sn.load_file(str(tmp_path / "x.safetensors"))
    assert set(back) == set(a)
    for k in a:
        assert back[k].dtype == a[k].dtype and back[k].shape == a[k].shape and np.array_equal(back[k], a[k])
    from safetensors import safe_open

    with safe_open(str(tmp_path / "x.safetensors"), "numpy") as f:
        assert f.metadata() == {"format": "pt"}


def test_package_read_by_ours(tmp_path):
    a = _arrays()
    sn.save_file(a, str(tmp_path / "y.safetensors"), metadata={"k": "v"})
    f = st.SafetensorsFile(str(tmp_path / "y.safetensors"))
    assert f.metadata == {"k": "v"} and set(f.infos) == set(a)
    for k in a:
        got = f.get(k)
        assert got.dtype == a[k].dtype and np.array_equal(got, a[k])
        assert not got.flags.writeable  # a view of the file, not a copy
        assert np.array_equal(f.raw(k), np.ascontiguousarray(a[k]).reshape(-1).view(np.uint8))


def test_bfloat16_and_float8_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    a = {"b": rng.standard_normal((3, 8)).astype(ml_dtypes.bfloat16),
         "f8": rng.standard_normal((4, 4)).astype(ml_dtypes.float8_e4m3fn)}
    st.save(str(tmp_path / "z.safetensors"), a)
    f = st.SafetensorsFile(str(tmp_path / "z.safetensors"))
    assert f.infos["b"].dtype == "BF16" and f.infos["f8"].dtype == "F8_E4M3"
    for k in a:
        assert f.get(k).dtype == a[k].dtype and np.array_equal(f.get(k).view(np.uint8), a[k].view(np.uint8))
    header_len = int.from_bytes((tmp_path / "z.safetensors").read_bytes()[:8], "little")
    assert (8 + header_len) % 8 == 0  # data starts aligned, as the reference writer does


def test_writer_checks_order_dtype_and_completeness(tmp_path):
    w = st.SafetensorsWriter(str(tmp_path / "w.safetensors"), [("a", "F32", (2,)), ("b", "U8", (3,))])
    with pytest.raises(ValueError, match="expected tensor 'a' next"):
        w.write("b", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="header says F32"):
        w.write("a", np.zeros(2, np.float64))
    w.write("a", np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="never written"):
        w.close()


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:5], "too short for a header"),
    (lambda b: (10 ** 9).to_bytes(8, "little") + b[8:], "not a safetensors file"),
    (lambda b: b[:8] + b"[" + b[9:], "header is not JSON|not a JSON object"),
    (lambda b: b[:-3], "truncated: tensor 'w' ends at byte"),
])
def test_damaged_files_are_named(tmp_path, damage, message):
    good = tmp_path / "good.safetensors"
    sn.save_file({"w": np.ones((4, 4), np.float32)}, str(good))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(damage(good.read_bytes()))
    with pytest.raises(st.SafetensorsError, match=message) as e:
        st.SafetensorsFile(str(bad))
    assert str(bad) in str(e.value)


def test_inconsistent_offsets_rejected(tmp_path):
    header = json.dumps({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}}).encode()
    p = tmp_path / "x.safetensors"
    p.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 16)
    with pytest.raises(st.SafetensorsError, match=r"tensor 'w' \(F32, shape \[2, 2\]\) needs 16 bytes but its "
                                                  r"data_offsets \[0, 12\] span 12 \(4 too few\)"):
        st.SafetensorsFile(str(p))
    header = json.dumps({"w": {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]}}).encode()
    p.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 4)
    with pytest.raises(st.SafetensorsError, match="unknown dtype 'F99'"):
        st.SafetensorsFile(str(p))


def _raw(header, data_len):
    blob = json.dumps(header).encode()
    return len(blob).to_bytes(8, "little") + blob + b"\0" * data_len


@pytest.mark.parametrize("offsets, data_len, message", [
    ({"a": [0, 16], "b": [8, 24]}, 24, r"tensor 'b' starts at data byte 8, but the previous tensor 'a' ends at 16: "
                                       r"8 bytes overlap"),
    ({"a": [0, 16], "b": [20, 36]}, 36, r"tensor 'b' starts at data byte 20, but the previous tensor 'a' ends at 16: "
                                        r"a gap of 4 bytes"),
    ({"a": [4, 20], "b": [20, 36]}, 36, r"tensor 'a' starts at data byte 4, but the data starts at 0: a gap of 4"),
    ({"a": [0, 16], "b": [16, 32]}, 40, r"8 bytes after the last tensor 'b' \(the data section has 40 bytes, the "
                                        r"tensors 32\)"),
    ({"a": [0, 16], "b": [0, 16]}, 16, r"tensor 'b' starts at data byte 0, but the previous tensor 'a' ends at 16"),
])
def test_tensors_must_tile_the_data(tmp_path, offsets, data_len, message):
    """As the reference library: in offset order each tensor starts where the previous one
    ends, and the last one ends at the end of the file."""
    header = {n: {"dtype": "F32", "shape": [4], "data_offsets": o} for n, o in offsets.items()}
    p = tmp_path / "x.safetensors"
    p.write_bytes(_raw(header, data_len))
    with pytest.raises(st.SafetensorsError, match=message):
        st.SafetensorsFile(str(p))


@pytest.mark.parametrize("field, value, message", [
    ("data_offsets", ["0", "16"], r"data_offsets \['0', '16'\], not two integers"),
    ("data_offsets", [0.0, 16.0], r"data_offsets \[0.0, 16.0\], not two integers"),
    ("data_offsets", [16, 0], r"data_offsets \[16, 0\], not two integers \[begin, end\] with 0 <= begin <= end"),
    ("shape", ["4"], r"shape \['4'\], not a list of non-negative integers"),
    ("shape", [4.0], r"shape \[4.0\], not a list"),
    ("shape", [True], r"shape \[True\], not a list"),
    ("dtype", ["F32"], r"dtype \['F32'\], not a dtype name"),
])
def test_header_fields_of_the_wrong_type_are_named(tmp_path, field, value, message):
    header = {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}
    header["w"][field] = value
    p = tmp_path / "x.safetensors"
    p.write_bytes(_raw(header, 16))
    with pytest.raises(st.SafetensorsError, match=r"tensor 'w' has " + message):
        st.SafetensorsFile(str(p))
