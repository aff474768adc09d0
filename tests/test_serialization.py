"""ag.save / ag.load: exact round trips, no pickle either way, damaged files
rejected, expected names and shapes checked, and atomic writes."""
import os
import pickle

import numpy as np
import pytest

import autograd_lite as ag


@pytest.fixture
def params():
    rng = np.random.default_rng(3)
    return {"W1": ag.Tensor(rng.standard_normal((4, 3)), requires_grad=True, name="W1"),
            "b1": np.zeros((4, 1)),
            "W2": rng.standard_normal((1, 4)).astype(np.float32),
            "b2": ag.Tensor(rng.standard_normal((1, 1)).astype(np.float32))}


def _raw(value):
    return value.data if isinstance(value, ag.Tensor) else value


def test_round_trip_is_bit_exact_for_float64_and_float32(tmp_path, params):
    path = tmp_path / "model.npz"
    assert ag.save(params, path) == path
    loaded = ag.load(path)
    assert list(loaded) == list(params)
    for key, original in params.items():
        t = loaded[key]
        assert isinstance(t, ag.Tensor) and t.requires_grad and t.name == key
        assert t.dtype == _raw(original).dtype
        assert t.data.tobytes() == _raw(original).tobytes()


def test_extreme_values_survive(tmp_path):
    special = np.array([np.finfo(np.float64).tiny / 2, -0.0, np.inf, -np.inf, np.nan, 1e308])
    path = tmp_path / "special.npz"
    ag.save({"v": special}, path)
    assert ag.load(path)["v"].data.tobytes() == special.tobytes()


def test_loaded_parameters_train(tmp_path, params):
    path = tmp_path / "model.npz"
    ag.save(params, path)
    W1 = ag.load(path)["W1"]
    (W1 * W1).sum().backward()
    np.testing.assert_array_equal(W1.grad, 2 * _raw(params["W1"]))  # d/dW sum(W^2) = 2W


def test_save_overwrites_an_existing_file(tmp_path, params):
    path = tmp_path / "model.npz"
    ag.save({"old": np.ones(2)}, path)
    ag.save(params, path)
    assert list(ag.load(path)) == list(params)


@pytest.mark.parametrize("cut", [0, 10, 0.5, -1])
def test_truncated_file_is_rejected_naming_it(tmp_path, params, cut):
    path = tmp_path / "model.npz"
    ag.save(params, path)
    raw = path.read_bytes()
    short = tmp_path / "short.npz"
    short.write_bytes(raw[:int(len(raw) * cut) if isinstance(cut, float) else cut % len(raw)])
    with pytest.raises(ValueError, match=r"short\.npz.*truncated or corrupted"):
        ag.load(short)


def test_corrupted_data_byte_is_rejected(tmp_path, params):
    path = tmp_path / "model.npz"
    ag.save(params, path)
    raw = bytearray(path.read_bytes())
    raw[raw.index(b"W1.npy") + 200] ^= 0xFF  # inside W1's data: the zip CRC no longer matches
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"model\.npz.*'W1'.*truncated or corrupted"):
        ag.load(path)


def test_pickle_bearing_npz_is_rejected(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, W1=np.array([{"code": "runs on unpickle"}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"evil\.npz.*'W1'.*pickled data"):
        ag.load(path, require_manifest=False)
    with pytest.raises(ValueError, match=r"evil\.npz.*no manifest"):
        ag.load(path)


def test_plain_pickle_file_is_rejected(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"W1": np.ones(3)}))
    with pytest.raises(ValueError, match=r"evil\.pkl.*pickled data"):
        ag.load(path)


def test_single_npy_file_is_rejected(tmp_path):
    path = tmp_path / "one.npy"
    np.save(path, np.ones(3))
    with pytest.raises(ValueError, match=r"one\.npy.*not an \.npz archive"):
        ag.load(path)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        ag.load(tmp_path / "nowhere.npz")


def test_expected_keys_are_checked(tmp_path, params):
    path = tmp_path / "model.npz"
    ag.save(params, path)
    wrong = {"W1": (4, 3), "b1": (4, 1), "W2": (1, 4), "W3": (1, 1)}
    with pytest.raises(ValueError, match=r"missing \['W3'\], unexpected \['b2'\]"):
        ag.load(path, expected=wrong)


def test_expected_shapes_are_checked_naming_key_and_both_shapes(tmp_path, params):
    path = tmp_path / "model.npz"
    ag.save(params, path)
    wrong = {"W1": (3, 4), "b1": (4, 1), "W2": (1, 4), "b2": (1, 1)}
    with pytest.raises(ag.ShapeError, match=r"'W1'.*shape \(4, 3\) but shape \(3, 4\) was expected"):
        ag.load(path, expected=wrong)


def test_expected_may_be_a_params_dict(tmp_path, params):
    path = tmp_path / "model.npz"
    ag.save(params, path)
    assert list(ag.load(path, expected=params)) == list(params)


def test_object_arrays_are_never_saved(tmp_path):
    path = tmp_path / "model.npz"
    with pytest.raises(TypeError, match=r"'W1' has dtype object.*pickling"):
        ag.save({"W1": np.array([object()])}, path)
    assert not path.exists()


@pytest.mark.parametrize("key", [1, "", "a/b", "a\\b"])
def test_keys_must_be_usable_npz_names(tmp_path, key):
    with pytest.raises(ValueError, match=r"save: parameter name .* is not allowed; names must be 1 to 200"):
        ag.save({key: np.ones(2)}, tmp_path / "model.npz")


def test_keys_that_are_numpy_keyword_names_round_trip(tmp_path):
    # np.savez(file, *args, allow_pickle=..., **kwds) could not take these as names.
    path = tmp_path / "model.npz"
    ag.save({"file": np.ones(2), "allow_pickle": np.zeros(1)}, path)
    assert list(ag.load(path)) == ["file", "allow_pickle"]


def test_non_mapping_or_empty_params_are_rejected(tmp_path):
    with pytest.raises(TypeError, match="mapping"):
        ag.save([np.ones(2)], tmp_path / "model.npz")
    with pytest.raises(ValueError, match="empty"):
        ag.save({}, tmp_path / "model.npz")


@pytest.mark.parametrize("error", [OSError, KeyboardInterrupt])
def test_failed_save_leaves_target_untouched_and_no_temp_file(tmp_path, params, monkeypatch, error):
    import zipfile
    path = tmp_path / "model.npz"
    ag.save({"old": np.arange(3.0)}, path)
    before = path.read_bytes()
    original_open = zipfile.ZipFile.open

    def open_then_fail_at_W2(self, name, mode="r", **kwargs):
        if mode == "w" and getattr(name, "filename", name) == "W2.npy":  # manifest, W1, b1 written
            raise error("interrupted mid-write (simulated)")
        return original_open(self, name, mode, **kwargs)
    monkeypatch.setattr(zipfile.ZipFile, "open", open_then_fail_at_W2)
    with pytest.raises(error):
        ag.save(params, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


def test_failed_first_save_creates_nothing(tmp_path, params, monkeypatch):
    def fail(fd):
        raise OSError("I/O error (simulated)")
    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="simulated"):
        ag.save(params, tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


def test_saved_file_gets_ordinary_permissions(tmp_path, params):
    path = tmp_path / "model.npz"
    ag.save(params, path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# --- property: any real arrays under any allowed names round trip exactly ----------------------
from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

_names = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,20}", fullmatch=True)
_arrays = hnp.arrays(dtype=st.sampled_from([np.float64, np.float32, np.float16]),
                     shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))


@settings(max_examples=30)  # each save fsyncs; 30 examples take about a second
@given(st.dictionaries(_names, _arrays, min_size=1, max_size=4))
def test_any_real_params_round_trip_bit_for_bit(tmp_path_factory, params):
    path = tmp_path_factory.getbasetemp() / "roundtrip.npz"  # overwritten by each example
    ag.save(params, path)
    loaded = ag.load(path)
    assert list(loaded) == list(params)
    for key, value in params.items():
        got = loaded[key].data
        assert got.dtype == value.dtype and got.shape == value.shape
        assert got.tobytes() == value.tobytes()


def test_a_0_d_array_keeps_its_shape(tmp_path):
    ag.save({"s": np.array(2.5), "t": np.float32(1.5)}, tmp_path / "scalar.npz")
    loaded = ag.load(tmp_path / "scalar.npz")
    assert loaded["s"].shape == () and loaded["s"].item() == 2.5
    assert loaded["t"].shape == () and loaded["t"].dtype == np.float32


def test_non_contiguous_arrays_are_saved_by_value(tmp_path):
    W = np.arange(12.0).reshape(3, 4)
    ag.save({"T": W.T, "strided": W[:, ::2], "tensor": ag.Tensor(W)[1:, :]}, tmp_path / "views.npz")
    loaded = ag.load(tmp_path / "views.npz")
    np.testing.assert_array_equal(loaded["T"].data, W.T)
    np.testing.assert_array_equal(loaded["strided"].data, W[:, ::2])
    np.testing.assert_array_equal(loaded["tensor"].data, W[1:, :])
