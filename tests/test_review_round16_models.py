"""Review round 16 (adv75), the learners' side: models/ and its jobs.

2. Data whose first cost is finite but on which training diverges later (features finite but huge)
   ended the football job in a chained traceback, exit status 1; docs/api.md promises status 2 and a
   message for unusable data. Both jobs now report it in one line naming the model, the iteration
   and what to check (the features' scale: the jobs have no learning-rate option).
3. models.manual's hand-derived reference returned the gradients of another function, silently:
   a backward pass given another keep_prob than its forward pass, and dropout masks holding values
   other than 0 and 1 (a -1 turns the relu test ``A > 0`` off). Both are refused on the checked
   path, by ag.dropout's own mask rule; check=False pays nothing. The meaning of a None mask entry
   (manual: no dropout there; three_layer / deep: a mask drawn from rng) is stated in both places.
4. Path messages said what a path is not: ``--data /dev/null`` "does not exist", a folder whose
   football.npz is a folder or a FIFO "holds none of football.npz", ``--out`` on a dangling symbolic
   link "File exists". Each now says what the path is and what was expected.

Expected values come from the math (central differences of the reference's own forward pass, a
forward pass written out here) and from what the file system holds, never from the code under test.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from models import TrainingDivergedError, cat, data, football, manual, three_layer

REPO = Path(__file__).resolve().parents[1]


# --- 2. data on which training diverges after iteration 0 -----------------------------------------
def diverging_football(tmp_path):
    """The synthetic set with its train features times 1e200: the first forward pass stays finite
    (|Z1| about 1e200), the first update multiplies two such numbers and overflows (1e400)."""
    train_X, train_Y, test_X, test_Y = data.synthetic_football(n_train=30, n_test=10)
    path = tmp_path / "football.npz"
    np.savez(path, train_X=train_X * 1e200, train_Y=train_Y, test_X=test_X, test_Y=test_Y)
    return path


def test_football_job_reports_a_divergence_as_a_data_error_naming_model_and_iteration(tmp_path, capsys):
    path = diverging_football(tmp_path)
    with np.errstate(all="ignore"), pytest.raises(SystemExit) as info:
        football.main(["--data", str(path), "--out", str(tmp_path / "out"), "--iterations", "3"])
    assert info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"python -m models.football: error: data {path}: model 'no regularization': ")
    assert "iteration 1" in error and "training diverged" in error
    assert f"largest |feature| {np.abs(np.load(path)['train_X']).max():.3g}" in error
    assert "learning rate 0.3, which it has no option for" in error
    assert "check the scale of the data's features" in error
    assert not (tmp_path / "out" / "results.json").exists()  # nothing published


def test_football_job_run_as_a_command_exits_2_without_a_traceback_on_divergence(tmp_path):
    path = diverging_football(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-W", "ignore", "-m", "models.football", "--data", str(path),
                          "--out", str(tmp_path / "out"), "--iterations", "3"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 2, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert "model 'no regularization'" in run.stderr and "iteration 1" in run.stderr


def write_cat_npz(path, m=4, n=2):
    rs = np.random.RandomState(0)
    np.savez(path, train_x_orig=rs.randint(0, 256, (m, 64, 64, 3)).astype(np.uint8),
             train_y=np.array([[0, 1] * (m // 2)]), test_x_orig=rs.randint(0, 256, (n, 64, 64, 3)).astype(np.uint8),
             test_y=np.array([[1, 0] * (n // 2)]))
    return path


def test_cat_job_reports_a_divergence_as_a_data_error_naming_the_model(tmp_path, capsys, monkeypatch):
    # Range-checked pixels at the course's rate do not diverge; the report is what is tested here.
    path = write_cat_npz(tmp_path / "catvnoncat.npz")
    message = "deep.train: parameter W1 (7, 12288) holds inf after the update of epoch 4 (cost inf); training diverged"

    def diverge(name, *args, **kwargs):
        raise TrainingDivergedError(message)

    monkeypatch.setattr(cat, "train_model", diverge)
    with pytest.raises(SystemExit) as info:
        cat.main(["--data", str(path), "--out", str(tmp_path / "out"), "--iterations", "5"])
    assert info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"python -m models.cat: error: data {path}: model '2-layer': {message}. ")
    assert "learning rate 0.0075, which it has no option for" in error


# --- 3. the hand-derived reference refuses what would make its gradients another function's --------
def small_case(seed=0, m=6):
    rs = np.random.RandomState(seed)
    X = rs.randn(2, m)
    Y = (rs.rand(1, m) > 0.5) * 1.0
    return X, Y, manual.initialize_reference()


def by_hand_cost(X, Y, P, keep_prob, masks):
    """The study's cost with inverted dropout, written out here: the oracle's forward pass."""
    A1 = np.maximum(0, P["W1"] @ X + P["b1"]) * masks[0] / keep_prob
    A2 = np.maximum(0, P["W2"] @ A1 + P["b2"]) * masks[1] / keep_prob
    A3 = 1 / (1 + np.exp(-(P["W3"] @ A2 + P["b3"])))
    return -np.mean(Y * np.log(A3) + (1 - Y) * np.log(1 - A3))


def central_differences(f, P, key, eps=1e-6):
    grad = np.zeros_like(P[key])
    for i in np.ndindex(grad.shape):
        up = {k: v.copy() for k, v in P.items()}
        up[key][i] += eps
        down = {k: v.copy() for k, v in P.items()}
        down[key][i] -= eps
        grad[i] = (f(up) - f(down)) / (2 * eps)
    return grad


def test_backward_propagation_refuses_another_keep_prob_than_its_forward_pass():
    X, Y, P = small_case()
    masks = manual.reference_dropout_masks((20, 3), 6, 0.5)
    _, cache = manual.forward_propagation(X, P, 0.5, masks)
    with pytest.raises(ValueError, match=re.escape(
            "backward_propagation: keep_prob is 0.8 but the forward pass that made the cache used keep_prob=0.5")):
        manual.backward_propagation(X, Y, cache, 0.0, 0.8)
    # The same keep_prob: the gradients of that forward pass (central differences of the oracle's).
    hand = manual.backward_propagation(X, Y, cache, 0.0, 0.5)
    expected = central_differences(lambda p: by_hand_cost(X, Y, p, 0.5, masks), P, "W1")
    np.testing.assert_allclose(hand["dW1"], expected, rtol=1e-6, atol=1e-9)
    assert np.abs(expected).max() > 1e-3  # (a test of something: the gradient is not all zero)


def test_L_model_backward_refuses_another_keep_prob_than_its_forward_pass():
    X, Y, P = small_case()
    masks = manual.reference_dropout_masks((20, 3), 6, 0.5)
    _, caches = manual.L_model_forward(X, P, 0.5, masks)
    assert isinstance(caches, list) and len(caches) == 3  # (what the docs call it: still the list)
    with pytest.raises(ValueError, match=re.escape(
            "L_model_backward: keep_prob is 1.0 but the forward pass that made the caches used keep_prob=0.5")):
        manual.L_model_backward(Y, caches, 0.0, 1.0)
    expected = central_differences(lambda p: by_hand_cost(X, Y, p, 0.5, masks), P, "W2")
    np.testing.assert_allclose(manual.L_model_backward(Y, caches, 0.0, 0.5)["dW2"], expected, rtol=1e-6, atol=1e-9)


def test_unchecked_forward_pass_returns_the_plain_cache():
    # check=False (the benchmark's course step) builds nothing more than the course's tuple / list.
    X, Y, P = small_case()
    masks = manual.reference_dropout_masks((20, 3), 6, 0.5)
    assert type(manual.forward_propagation(X, P, 0.5, masks, check=False)[1]) is tuple
    assert type(manual.L_model_forward(X, P, 0.5, masks, check=False)[1]) is list
    _, cache = manual.forward_propagation(X, P, 0.5, masks)
    assert isinstance(cache, tuple) and len(cache) == 14


@pytest.mark.parametrize("bad", [-1.0, 2.0, np.nan])
def test_masks_other_than_0_1_are_refused_by_every_checked_entry_point(bad):
    X, Y, P = small_case()
    D1, D2 = manual.reference_dropout_masks((20, 3), 6, 0.5)
    odd = np.where(D1, bad, 0.0)
    wanted = "masks[0]: mask must hold only 0 and 1, found values such as"
    with pytest.raises(ValueError, match=re.escape(f"forward_propagation: {wanted}")):
        manual.forward_propagation(X, P, 0.5, [odd, D2])
    with pytest.raises(ValueError, match=re.escape(f"L_model_forward: {wanted}")):
        manual.L_model_forward(X, P, 0.5, [odd, D2])
    with pytest.raises(ValueError, match=re.escape(f"three_layer_step (in forward_propagation): {wanted}")):
        manual.three_layer_step({k: v.copy() for k, v in P.items()}, X, Y, 0.1, 0.0, 0.5, [odd, D2])
    with pytest.raises(ValueError, match=re.escape("deep_step (in L_model_forward): masks[1]: mask must hold")):
        manual.deep_step({k: v.copy() for k, v in P.items()}, X, Y, 0.1, 0.0, 0.5, [D1, np.where(D2, bad, 0.0)])


def test_masks_of_0_1_in_any_dtype_give_the_forward_pass_gradients():
    X, Y, P = small_case(seed=3)
    D1, D2 = manual.reference_dropout_masks((20, 3), 6, 0.5)
    expected = central_differences(lambda p: by_hand_cost(X, Y, p, 0.5, (D1, D2)), P, "W1")
    for masks in ([D1, D2], [D1.astype(np.int64), D2.astype(np.float32)], (D1 * 1.0, D2 * 1.0)):
        _, cache = manual.forward_propagation(X, P, 0.5, masks)
        np.testing.assert_allclose(manual.backward_propagation(X, Y, cache, 0.0, 0.5)["dW1"], expected,
                                   rtol=1e-6, atol=1e-9)


def test_a_none_mask_entry_means_no_dropout_in_manual_and_a_drawn_mask_in_three_layer():
    import autograd_lite as ag
    X, Y, P = small_case(seed=1, m=40)
    # manual: [None, None] drops nothing, whatever keep_prob (the oracle: no dropout at all).
    A3, _ = manual.forward_propagation(X, P, 0.5, [None, None])
    ones = (np.ones((20, 40)), np.ones((3, 40)))
    no_dropout = by_hand_cost(X, Y, P, 1.0, ones)
    assert manual.compute_cost(A3, Y) == pytest.approx(no_dropout, rel=1e-12)
    # three_layer: a None entry is drawn from rng, as masks=None is: the same masks from the same seed.
    params = {k: ag.Tensor(v) for k, v in P.items()}
    drawn = three_layer.cost(params, X, Y, keep_prob=0.5, masks=[None, None], rng=7).item()
    assert drawn == three_layer.cost(params, X, Y, keep_prob=0.5, masks=None, rng=7).item()
    assert abs(drawn - no_dropout) > 1e-3
    # The docs say so in both places.
    api = (REPO / "docs" / "api.md").read_text()
    manual_part = api[api.index("### `models.manual`"):api.index("### `models.football`")]
    three_part = api[api.index("### `models.three_layer`"):api.index("### `models.deep`")]
    assert "`masks=[None, None]` drops nothing" in " ".join(manual_part.split())
    assert "`masks=[None, None]` means fresh masks" in " ".join(three_part.split())


# --- 4. path messages say what the path is ---------------------------------------------------------
@pytest.mark.skipif(not os.path.exists("/dev/null") or sys.platform == "win32", reason="needs /dev/null")
def test_data_path_that_is_a_device_is_called_a_device():
    with pytest.raises(ValueError) as info:
        data.find_data("/dev/null", data.FOOTBALL_FILES)
    assert str(info.value) == ("data path '/dev/null' is a character device; expected a data file (football.npz or "
                               "data.mat) or a folder holding one")
    with pytest.raises(ValueError, match=re.escape("data file '/dev/null' is a character device; expected an .npz")):
        data.load_football("/dev/null")


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")


@needs_fifo
def test_data_path_that_is_a_fifo_or_a_dangling_link_is_said_as_such(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ValueError, match=re.escape(f"data path {str(tmp_path / 'pipe')!r} is a FIFO (named pipe)")):
        data.find_data(tmp_path / "pipe", data.FOOTBALL_FILES)
    os.symlink(tmp_path / "gone", tmp_path / "link")
    with pytest.raises(ValueError, match=re.escape(
            f"data path {str(tmp_path / 'link')!r} is a symbolic link to {str(tmp_path / 'gone')!r}, which does not "
            "exist")):
        data.find_data(tmp_path / "link", data.FOOTBALL_FILES)
    with pytest.raises(FileNotFoundError, match="does not exist"):  # nothing there: said so, as before
        data.find_data(tmp_path / "nothing", data.FOOTBALL_FILES)


@needs_fifo
@pytest.mark.parametrize("kind", ["directory", "FIFO", "link"])
def test_folder_with_something_else_at_the_data_files_name_names_it(tmp_path, kind):
    target = tmp_path / "football.npz"
    described = {"directory": "a directory", "FIFO": "a FIFO (named pipe)",
                 "link": f"a symbolic link to {str(tmp_path / 'moved.npz')!r}, which does not exist"}[kind]
    {"directory": target.mkdir, "FIFO": lambda: os.mkfifo(target),
     "link": lambda: os.symlink(tmp_path / "moved.npz", target)}[kind]()
    with pytest.raises(ValueError) as info:
        data.find_data(tmp_path, data.FOOTBALL_FILES)
    assert str(info.value) == (f"folder {str(tmp_path)!r} holds no data file: {str(target)!r} is {described}; "
                               "expected a regular file at one of the names football.npz, data.mat")
    (tmp_path / "data.mat").write_bytes(b"")  # a regular file at the next name is still found
    assert data.find_data(tmp_path, data.FOOTBALL_FILES) == tmp_path / "data.mat"


def test_cat_pair_folder_with_a_folder_at_the_test_files_name_names_it(tmp_path):
    (tmp_path / "train_catvnoncat.h5").write_bytes(b"")
    (tmp_path / "test_catvnoncat.h5").mkdir()
    with pytest.raises(FileNotFoundError, match=re.escape(
            "does not hold test_catvnoncat.h5 as a regular file (test_catvnoncat.h5 there is a directory)")):
        data.load_catvnoncat(tmp_path)
    with pytest.raises(FileNotFoundError, match=re.escape("test_catvnoncat.h5 beside it is a directory")):
        data.load_catvnoncat(tmp_path / "train_catvnoncat.h5")


@needs_fifo
def test_data_folder_variable_naming_a_fifo_says_so(tmp_path, monkeypatch):
    os.mkfifo(tmp_path / "pipe")
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "pipe"))
    with pytest.raises(ValueError, match=re.escape("is not a folder (a FIFO (named pipe))")):
        data.data_folder()


def out_error(tmp_path, capsys, out):
    with pytest.raises(SystemExit) as info:
        football.main(["--data", "synthetic", "--out", str(out), "--iterations", "1"])
    assert info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@needs_fifo
def test_out_on_a_dangling_link_a_loop_or_a_fifo_is_said_as_such(tmp_path, capsys):
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    os.symlink(tmp_path / "loop", tmp_path / "loop")
    os.mkfifo(tmp_path / "pipe")
    cases = {tmp_path / "dangling": f"is a symbolic link to {str(tmp_path / 'nowhere')!r}, which does not exist; "
                                    "expected a folder",
             tmp_path / "loop": "is a loop of symbolic links; expected a folder",
             tmp_path / "pipe": "is a FIFO (named pipe); expected a folder"}
    for out, said in cases.items():
        error = out_error(tmp_path, capsys, out)
        assert error.endswith(f"--out {str(out)!r} {said}"), error
        assert "File exists" not in error
    # Further up the path: the part in the way is named, not mkdir's "File exists" / "Not a directory".
    error = out_error(tmp_path, capsys, tmp_path / "dangling" / "sub")
    assert (f"cannot create the folder ({str(tmp_path / 'dangling')!r} is a symbolic link to "
            f"{str(tmp_path / 'nowhere')!r}, which does not exist)") in error
    error = out_error(tmp_path, capsys, tmp_path / "pipe" / "sub")
    assert f"cannot create the folder ({str(tmp_path / 'pipe')!r} is a FIFO (named pipe))" in error
    assert not (tmp_path / "nowhere").exists()  # nothing created through the link


def test_a_backward_keep_prob_is_free_when_no_mask_was_applied():
    # (adv81, finding 11) [None, None] drops nothing: the backward's keep_prob divides nothing either,
    # so any value gives the no-dropout gradients (the oracle: both passes without dropout, unchecked)
    X, Y, P = small_case(seed=1, m=5)
    _, plain = manual.forward_propagation(X, P, 1.0, None, check=False)
    want = manual.backward_propagation(X, Y, plain, 0.0, 1.0, check=False)
    _, cache = manual.forward_propagation(X, P, 0.5, [None, None])
    got = manual.backward_propagation(X, Y, cache, 0.0, 1.0)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])
    _, caches = manual.L_model_forward(X, P, 0.5, [None, None])
    got = manual.L_model_backward(Y, caches, 0.0, 0.8)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12, atol=1e-15)
