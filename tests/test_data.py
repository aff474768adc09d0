"""models.data: the synthetic default, the real files, and clear errors for bad files."""
from pathlib import Path

import numpy as np
import pytest

from models import data

def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def football_arrays():
    rng = np.random.default_rng(0)
    return {"train_X": rng.random((2, 5)), "train_Y": np.array([[0., 1., 1., 0., 1.]]),
            "test_X": rng.random((2, 3)), "test_Y": np.array([[1., 0., 0.]])}


def test_synthetic_default_shapes_dtypes_and_determinism():
    first, second = data.load_football(), data.load_football(None)
    assert [a.shape for a in first] == [(2, 211), (1, 211), (2, 200), (1, 200)]
    assert all(a.dtype == np.float64 for a in first)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    for Y in (first[1], first[3]):
        assert set(np.unique(Y)) == {0.0, 1.0}
        assert 0.3 < Y.mean() < 0.7  # both classes well represented


def test_real_football_matches_its_readme(real_data):
    train_X, train_Y, test_X, test_Y = data.load_football(real_data("football.npz"))
    assert train_X.shape == (2, 211) and test_X.shape == (2, 200)
    assert train_Y.sum() == 106 and test_Y.sum() == 87  # counts stated in the data folder's README


def test_real_catvnoncat_flattened_and_scaled(real_data):
    path = real_data("catvnoncat.npz")
    train_x, train_y, test_x, test_y = data.load_catvnoncat(path)
    assert train_x.shape == (12288, 209) and test_x.shape == (12288, 50)
    assert train_y.shape == (1, 209) and test_y.shape == (1, 50) and train_y.dtype == np.float64
    assert train_y.sum() == 72 and test_y.sum() == 33
    assert 0 <= train_x.min() and train_x.max() <= 1
    raw = np.load(path)["train_x_orig"]
    # Column j is example j's pixels in row-major (height, width, channel) order.
    np.testing.assert_array_equal(train_x[:, 3], raw[3].ravel() / 255)


def test_loads_a_valid_file(tmp_path):
    arrays = football_arrays()
    loaded = data.load_football(write_npz(tmp_path / "ok.npz", **arrays))
    for got, key in zip(loaded, ["train_X", "train_Y", "test_X", "test_Y"]):
        np.testing.assert_array_equal(got, arrays[key])


def test_missing_key_names_file_and_key(tmp_path):
    arrays = football_arrays()
    del arrays["test_Y"]
    path = write_npz(tmp_path / "nokey.npz", **arrays)
    with pytest.raises(ValueError, match=r"nokey\.npz.*no key 'test_Y'"):
        data.load_football(path)


def test_wrong_shape_names_file_and_key(tmp_path):
    arrays = football_arrays()
    arrays["train_X"] = arrays["train_X"].T
    path = write_npz(tmp_path / "shape.npz", **arrays)
    with pytest.raises(ValueError, match=r"shape\.npz.*key 'train_X': shape \(5, 2\), expected \(2, m\)"):
        data.load_football(path)


def test_mismatched_example_counts(tmp_path):
    arrays = football_arrays()
    arrays["train_Y"] = arrays["train_Y"][:, :4]
    with pytest.raises(ValueError, match="'train_Y' has 4 examples but 'train_X' has 5"):
        data.load_football(write_npz(tmp_path / "count.npz", **arrays))


def test_labels_not_binary(tmp_path):
    arrays = football_arrays()
    arrays["test_Y"] = np.array([[1., 2., 0.]])
    with pytest.raises(ValueError, match="key 'test_Y': labels must be 0 or 1"):
        data.load_football(write_npz(tmp_path / "labels.npz", **arrays))


def test_truncated_file(tmp_path):
    good = write_npz(tmp_path / "good.npz", **football_arrays())
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"cut\.npz.*(unreadable|cannot be read)"):
        data.load_football(cut)


def test_not_an_npz(tmp_path):
    path = tmp_path / "text.npz"
    path.write_text("hello")
    with pytest.raises(ValueError, match=r"text\.npz"):
        data.load_football(path)


def test_pickled_object_array_is_refused(tmp_path):
    arrays = football_arrays()
    arrays["train_X"] = np.array([{"evil": 1}, None], dtype=object)
    path = write_npz(tmp_path / "pickle.npz", **arrays)
    with pytest.raises(ValueError, match=r"pickle\.npz.*(cannot be read safely|not numeric)"):
        data.load_football(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_football(tmp_path / "nowhere.npz")
