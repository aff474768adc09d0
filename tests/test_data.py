"""models.data: the synthetic default, the real files, and clear errors for bad files."""

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


# --- the course's own files: data.mat and the two .h5 files --------------------------------------
def write_mat(path, arrays):
    """The course's layout: examples as rows, uint8 label columns."""
    import scipy.io
    scipy.io.savemat(path, {"X": arrays["train_X"].T, "y": arrays["train_Y"].T.astype(np.uint8),
                            "Xval": arrays["test_X"].T, "yval": arrays["test_Y"].T.astype(np.uint8)})
    return path


def cat_arrays(m=6, n=4):
    rng = np.random.default_rng(1)
    return {"train_x_orig": rng.integers(0, 256, (m, 64, 64, 3), dtype=np.uint8),
            "train_y": (np.arange(m) % 2).reshape(1, m),
            "test_x_orig": rng.integers(0, 256, (n, 64, 64, 3), dtype=np.uint8),
            "test_y": (np.arange(n) % 3 == 0).astype(np.int64).reshape(1, n)}


def write_h5(folder, arrays):
    """The course's train_catvnoncat.h5 / test_catvnoncat.h5: images (m, 64, 64, 3) uint8,
    labels (m,) int64, list_classes [b'non-cat', b'cat']."""
    import h5py
    folder.mkdir(exist_ok=True)
    for split, x_key, y_key in (("train", "train_x_orig", "train_y"), ("test", "test_x_orig", "test_y")):
        with h5py.File(folder / f"{split}_catvnoncat.h5", "w") as f:
            f[f"{split}_set_x"] = arrays[x_key]
            f[f"{split}_set_y"] = arrays[y_key][0]
            f["list_classes"] = np.array([b"non-cat", b"cat"])
    return folder


def test_mat_file_gives_what_the_npz_gives(tmp_path):
    arrays = football_arrays()
    from_npz = data.load_football(write_npz(tmp_path / "f.npz", **arrays))
    from_mat = data.load_football(write_mat(tmp_path / "data.mat", arrays))
    for a, b, key in zip(from_mat, from_npz, ["train_X", "train_Y", "test_X", "test_Y"]):
        assert a.dtype == np.float64 and a.shape == arrays[key].shape, key
        np.testing.assert_array_equal(a, b)


def test_mat_file_checks(tmp_path):
    import scipy.io
    arrays = football_arrays()
    good = {"X": arrays["train_X"].T, "y": arrays["train_Y"].T.astype(np.uint8),
            "Xval": arrays["test_X"].T, "yval": arrays["test_Y"].T.astype(np.uint8)}
    scipy.io.savemat(tmp_path / "nokey.mat", {k: v for k, v in good.items() if k != "yval"})
    with pytest.raises(ValueError, match=r"nokey\.mat.*no key 'yval'"):
        data.load_football(tmp_path / "nokey.mat")
    scipy.io.savemat(tmp_path / "rows.mat", dict(good, X=good["X"].T))  # examples as columns: not the course's
    with pytest.raises(ValueError, match=r"rows\.mat.*key 'X': shape \(2, 5\), expected \(m, 2\)"):
        data.load_football(tmp_path / "rows.mat")
    scipy.io.savemat(tmp_path / "labels.mat", dict(good, y=np.array([[0], [1], [2], [0], [1]], np.uint8)))
    with pytest.raises(ValueError, match=r"labels\.mat.*key 'y': labels must be 0 or 1"):
        data.load_football(tmp_path / "labels.mat")
    scipy.io.savemat(tmp_path / "count.mat", dict(good, yval=good["yval"][:2]))
    with pytest.raises(ValueError, match="'yval' has 2 examples but 'Xval' has 3"):
        data.load_football(tmp_path / "count.mat")


def test_h5_folder_gives_what_the_npz_gives(tmp_path):
    arrays = cat_arrays()
    from_npz = data.load_catvnoncat(write_npz(tmp_path / "cats.npz", **arrays))
    from_h5 = data.load_catvnoncat(write_h5(tmp_path / "course", arrays))
    assert [a.shape for a in from_h5] == [(12288, 6), (1, 6), (12288, 4), (1, 4)]
    for a, b in zip(from_h5, from_npz):
        assert a.dtype == np.float64
        np.testing.assert_array_equal(a, b)
    # Independent of the loader: column j is image j's pixels in (row, column, channel) order / 255.
    np.testing.assert_array_equal(from_h5[0][:, 2], arrays["train_x_orig"][2].ravel() / 255)


def test_h5_folder_checks(tmp_path):
    import h5py
    arrays = cat_arrays()
    folder = write_h5(tmp_path / "course", arrays)
    (folder / "test_catvnoncat.h5").unlink()
    with pytest.raises(FileNotFoundError, match=r"is a directory that does not hold test_catvnoncat\.h5"):
        data.load_catvnoncat(folder)
    folder = write_h5(tmp_path / "wrong", arrays)
    with h5py.File(folder / "train_catvnoncat.h5", "a") as f:
        del f["train_set_y"]
        f["train_set_y"] = np.array([0, 1, 5, 0, 1, 0])
    with pytest.raises(ValueError, match=r"train_catvnoncat\.h5.*key 'train_set_y': labels must be 0 or 1"):
        data.load_catvnoncat(folder)
    folder = write_h5(tmp_path / "missing", arrays)
    with h5py.File(folder / "test_catvnoncat.h5", "a") as f:
        del f["test_set_x"]
    with pytest.raises(ValueError, match=r"test_catvnoncat\.h5' has no key 'test_set_x'"):
        data.load_catvnoncat(folder)


@pytest.mark.parametrize("layout", ["npz", "mat", "h5"])
def test_every_damaged_file_is_a_value_error_naming_it(tmp_path, layout):
    """Truncations and single-byte flips across the whole file: each load gives a ValueError
    naming the file, or arrays that pass every check; nothing else escapes (zlib.error,
    OSError, KeyError, a crash of scipy or HDF5, ...). An .npz carries a CRC per member, so
    there a load that succeeds gives the original arrays exactly; .mat and .h5 files carry no
    checksum of their data, so a flipped byte inside the numbers changes a number and nothing
    can tell (the jobs then no longer recognise the real set and show no published values)."""
    if layout == "npz":
        arrays = football_arrays()
        good = tmp_path / "good.npz"
        np.savez_compressed(good, **arrays)  # compressed: damage reaches zlib
        load = data.load_football
    elif layout == "mat":
        good = write_mat(tmp_path / "good.mat", football_arrays())
        load = data.load_football
    else:
        folder = write_h5(tmp_path / "good", cat_arrays(2, 1))
        good = folder / "test_catvnoncat.h5"
        load = data.load_catvnoncat
    original = good.read_bytes()
    expected = load(good if layout != "h5" else good.parent)
    rng = np.random.default_rng(0)
    # .mat and .h5 are read in a child process (~0.3 s each): fewer trials there.
    trials = 150 if layout == "npz" else 10
    positions = sorted(set(rng.integers(0, len(original), trials).tolist()) | {0, len(original) - 1})
    damaged = [original[:cut] for cut in (0, 10, len(original) // 2, len(original) - 1)]
    for i in positions:
        flipped = bytearray(original)
        flipped[i] ^= 0xFF
        damaged.append(bytes(flipped))
    errors = 0
    for content in damaged:
        good.write_bytes(content)
        try:
            got = load(good if layout != "h5" else good.parent)
        except ValueError as error:
            assert good.name in str(error), str(error)
            errors += 1
            continue
        for a, b in zip(got, expected):
            assert a.shape == b.shape and a.dtype == b.dtype
            if layout == "npz":  # CRC-checked: a successful load is the original data
                np.testing.assert_array_equal(a, b)
    assert errors >= 4  # at least the truncations were caught


def test_damaged_npz_member_is_not_a_zlib_error(tmp_path):
    """A flipped byte inside a compressed member used to escape as zlib.error without the file's name."""
    good = tmp_path / "z.npz"
    np.savez_compressed(good, **{k: np.repeat(v, 50, axis=-1) for k, v in football_arrays().items()})
    content = bytearray(good.read_bytes())
    start = content.index(b"train_X.npy") + len("train_X.npy") + 40  # inside the member's deflate stream
    content[start:start + 8] = b"\xff" * 8
    good.write_bytes(bytes(content))
    with pytest.raises(ValueError, match=r"z\.npz"):
        data.load_football(good)


def test_a_directory_is_called_a_directory(tmp_path):
    with pytest.raises(ValueError, match="is a directory"):
        data.load_football(tmp_path)
    (tmp_path / "cats.npz").mkdir()  # a folder is valid for the cat set, when it holds the .h5 pair
    with pytest.raises(FileNotFoundError, match=r"cats\.npz' is a directory that does not hold train_catvnoncat"):
        data.load_catvnoncat(tmp_path / "cats.npz")


def test_missing_optional_package_says_what_to_install(tmp_path, monkeypatch):
    import builtins
    path = write_mat(tmp_path / "data.mat", football_arrays())
    real_import = builtins.__import__

    def no_scipy(name, *args, **kwargs):
        if name.startswith("scipy"):
            raise ImportError("No module named 'scipy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_scipy)
    with pytest.raises(ImportError, match=r'needs scipy.*pip install "autograd_lite\[data\]"'):
        data.load_football(path)


def test_find_data_looks_in_the_option_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("AUTOGRAD_LITE_DATA", raising=False)
    assert data.find_data(None, data.FOOTBALL_FILES) is None
    write_mat(tmp_path / "data.mat", football_arrays())
    assert data.find_data(tmp_path, data.FOOTBALL_FILES) == tmp_path / "data.mat"
    write_npz(tmp_path / "football.npz", **football_arrays())
    assert data.find_data(tmp_path, data.FOOTBALL_FILES) == tmp_path / "football.npz"  # .npz first
    monkeypatch.setenv("AUTOGRAD_LITE_DATA", str(tmp_path))
    assert data.find_data(None, data.FOOTBALL_FILES) == tmp_path / "football.npz"
    write_h5(tmp_path / "h5", cat_arrays())
    assert data.find_data(tmp_path / "h5", data.CAT_FILES) == tmp_path / "h5"  # the folder of the pair
    with pytest.raises(FileNotFoundError, match="holds none of catvnoncat.npz"):
        data.find_data(None, data.CAT_FILES)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.find_data(tmp_path / "nope", data.CAT_FILES)
