"""Review round 15 (adv62): the holes next to this round's fixes (exec-made classes under ag.compile,
float16 gradient descent, power's Hessian at 0, the optimizers' refusals, the loaders). Each asserts
against an independent reference (closed form, exact arithmetic, torch.func, NumPy)."""
import io
import warnings
import zipfile

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import optim


# 1. compile: an object of an exec-made class is the user's (its attributes are read anew)
def test_compile_reads_attribute_of_exec_made_class_instance_anew():
    ns = {"ag": ag}
    exec("class Config:\n    pass\ncfg = Config()\ncfg.scale = 2.0\n"
         "def cost(x):\n    return ag.sum(x * cfg.scale)\n", ns)
    cf = ag.compile(ns["cost"])
    for s in [2.0, 2.0, 9.0, -1.5]:
        ns["cfg"].scale = s
        x = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out = cf(x)
        out.backward()
        assert float(out.data) == 3.0 * s                  # closed form: sum(x) * s
        np.testing.assert_array_equal(x.grad, [s, s])


def test_compile_reads_attribute_of_exec_made_class_instance_from_a_script_function():
    ns = {}
    exec("class D:\n    pass\n", ns)
    d = ns["D"]()
    d.k = 2.0

    def f(x):
        return ag.sum(x * d.k)
    cf = ag.compile(f)
    for k in [2.0, 2.0, 5.0]:
        d.k = k
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            assert float(cf(ag.Tensor(np.ones(4), requires_grad=True)).data) == 4.0 * k


# 2. GradientDescent on float16: the update computed in float32 (or wider), the new value rounded once
def test_gradient_descent_float16_does_not_overflow_lr_times_grad():
    p = ag.Tensor(np.array([60000.0], np.float16), requires_grad=True)
    opt = optim.GradientDescent([p], lr=1000.0)
    p.grad = np.array([70.0], np.float16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        opt.step()
    assert p.data[0] == np.float16(60000.0 - 1000.0 * 70.0)   # exact: -10000, a float16 number


def test_gradient_descent_float16_rounds_once():
    rng = np.random.default_rng(0)
    p0 = rng.normal(size=2000).astype(np.float16)
    g0 = rng.normal(size=2000).astype(np.float16)
    lr = 0.0123
    p = ag.Tensor(p0.copy(), requires_grad=True)
    opt = optim.GradientDescent([p], lr=lr)
    p.grad = g0.copy()
    opt.step()
    # float32 lr * float16 grad is exact enough: the float64 value rounded once to float16
    ref = (p0.astype(np.float64) - np.float64(np.float32(lr)) * g0.astype(np.float64)).astype(np.float16)
    ref64 = (p0.astype(np.float64) - lr * g0.astype(np.float64)).astype(np.float16)
    assert np.array_equal(p.data, ref) or np.array_equal(p.data, ref64)


# 3. power: the Hessian of x ** p at (0, 0) is symmetric (torch.func: 0 in both mixed entries)
def test_power_hessian_at_zero_zero_is_symmetric_as_torch():
    torch = pytest.importorskip("torch")
    from torch.func import hessian
    f = lambda v: v[0] ** v[1]  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        H = ag.hessian(f)(np.array([0.0, 0.0]))
    T = hessian(f)(torch.tensor([0.0, 0.0], dtype=torch.float64)).numpy()
    assert H[0, 1] == H[1, 0]
    np.testing.assert_array_equal(H, T)


def test_power_mixed_partial_away_from_zero_still_one_over_x():
    # (guard for a fix of the above: where x != 0, d2(x**p)/dx dp at p = 0 is 1/x, closed form)
    f = lambda v: v[0] ** v[1]  # noqa: E731
    H = ag.hessian(f)(np.array([1.5, 0.0]))
    np.testing.assert_allclose([H[0, 1], H[1, 0]], [1 / 1.5, 1 / 1.5], rtol=1e-14)


# 4. the overflow refusal looks at each entry, not at the whole .grad
@pytest.mark.parametrize("other", [np.nan, np.inf])
def test_grad_overflowing_parameter_dtype_refused_even_beside_nan_or_inf(other):
    p = ag.Tensor(np.zeros(2, np.float32), requires_grad=True)
    opt = optim.GradientDescent([p], lr=1e-30)
    p.grad = np.array([1e300, other])        # 1e300 > float32 max 3.4e38: it would become inf
    with pytest.raises(ValueError, match="range"):
        opt.step()
    np.testing.assert_array_equal(p.data, [0.0, 0.0])


# 5. the dtype-change message says the moments' real dtype
def test_dtype_change_message_does_not_misstate_float16_moments():
    p = ag.Tensor(np.ones(3, np.float16), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = np.ones(3, np.float16)
    opt.step()
    assert opt.state[0]["v"].dtype == np.float32
    p.data = p.data.astype(np.float32)
    p.grad = np.ones(3, np.float32)
    with pytest.raises(TypeError, match="changed dtype from float16 to float32 since the last step, so its "
                                        "running moments, made for a float16 parameter, no longer apply"):
        opt.step()


# 6. the loaders refuse a key stored both as 'k.npy' and as a bare 'k' (np.load lists it twice)
def test_load_football_refuses_key_stored_with_and_without_npy(tmp_path):
    from models import data

    def npy(a):
        b = io.BytesIO()
        np.save(b, a)
        return b.getvalue()
    X1, X2, Y = np.ones((2, 5)), np.full((2, 5), 7.0), np.array([[0, 1, 0, 1, 1.0]])
    path = tmp_path / "two.npz"
    with zipfile.ZipFile(path, "w") as z:
        for k, a in [("train_X.npy", X1), ("train_Y.npy", Y), ("test_X.npy", X1), ("test_Y.npy", Y),
                     ("train_X", X2)]:
            z.writestr(k, npy(a))
    with np.load(path) as f:
        assert f.files.count("train_X") == 2          # NumPy's own view: two train_X
    with pytest.raises(ValueError, match="train_X"):
        data.load_football(path)


# 7. ag.load keeps ints float64 holds exactly (a power of two beyond 2**53)
def test_load_accepts_ints_float64_holds_exactly(tmp_path):
    path = tmp_path / "p.npz"
    values = [2 ** 60, -(2 ** 54)]
    np.savez(path, W=np.array(values, dtype=np.int64))
    assert all(int(float(v)) == v for v in values)   # exact in float64
    W = ag.load(path, require_manifest=False)["W"]
    assert W.data.tolist() == [float(v) for v in values]


# 9. float16 dropout with a keep_prob that is subnormal in float16: the scale rounded once (as torch)
@pytest.mark.parametrize("kp", [1.6e-5, 2e-5])
def test_float16_dropout_scale_for_subnormal_keep_prob_is_rounded_once(kp):
    got = ag.dropout(np.ones(1, np.float16), kp, mask=np.ones(1)).data[0]
    want = np.float16(1 / kp)        # exact 1 / keep_prob rounded once to float16 (torch's value too)
    assert abs(int(np.float16(got).view(np.int16)) - int(want.view(np.int16))) <= 1
