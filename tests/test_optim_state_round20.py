"""Optimizer checkpoints (round 20): ``state_dict()`` / ``load_state_dict()`` continue a run bit for
bit, through ``ag.save`` / ``ag.load`` too; every refused state names the optimizer (and the parameter)
and changes nothing; a state filled by hand works or says what is missing; any Mapping of params."""
import collections.abc
import types

import numpy as np
import pytest

import autograd_lite as ag
from oracles import torch

KINDS = {"GradientDescent": {}, "Momentum": {"beta": 0.8}, "Adam": {"beta1": 0.85, "beta2": 0.99, "eps": 1e-7}}
SHAPES = [(3, 2), (4,)]


def _run(opt, params, grads):
    for step in grads:
        for p, g in zip(params, step):
            p.grad = None if g is None else g.copy()
        opt.step()


def _setup(dtype, steps, seed=0):
    """Initial values and ``steps`` gradients per parameter (the second has none on step 1: Adam's own t)."""
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
    grads = [[rng.standard_normal(shape).astype(dtype) if (k, i) != (0, 1) else None
              for i, shape in enumerate(SHAPES)] for k in range(steps)]
    return start, grads


def _params(values):
    return [ag.Tensor(v.copy(), requires_grad=True) for v in values]


def _make(name, params, lr=0.01):
    return getattr(ag.optim, name)(params, lr, **KINDS[name])


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("name", list(KINDS))
def test_a_checkpoint_through_save_and_load_continues_bit_for_bit(name, dtype, tmp_path):
    start, grads = _setup(dtype, 9)
    whole = _params(start)
    _run(_make(name, whole), whole, grads)

    first = _params(start)
    opt = _make(name, first)
    _run(opt, first, grads[:5])
    ag.save(opt.state_dict(), tmp_path / "opt.npz")
    ag.save({f"p{i}": p for i, p in enumerate(first)}, tmp_path / "params.npz")
    _run(opt, first, grads[5:])  # the saved state is a copy: the run that made it goes on unaffected

    loaded = ag.load(tmp_path / "params.npz")
    resumed = [ag.Tensor(loaded[f"p{i}"].data.astype(dtype), requires_grad=True) for i in range(len(SHAPES))]
    fresh = _make(name, resumed, lr=0.5)  # its own lr (and betas) are replaced by the saved ones
    fresh.load_state_dict(ag.load(tmp_path / "opt.npz"))
    assert fresh.t == 5 and fresh.lr == 0.01
    _run(fresh, resumed, grads[5:])
    for a, b, c in zip(whole, first, resumed):
        assert c.dtype == dtype
        np.testing.assert_array_equal(c.data, a.data)
        np.testing.assert_array_equal(b.data, a.data)


@pytest.mark.parametrize("name", list(KINDS))
def test_state_dict_is_plain_data_and_copies(name):
    start, grads = _setup(np.float16, 3)
    params = _params(start)
    opt = _make(name, params)
    _run(opt, params, grads)
    state = opt.state_dict()
    assert bytes(state["kind"]).decode() == name and state["num_params"] == 2 and state["t"] == 3
    assert type(state["lr"]) is float and state["lr"] == 0.01
    for key, value in KINDS[name].items():
        assert type(state[key]) is float and state[key] == value
    live = [a for own in opt.state for a in own.values() if isinstance(a, np.ndarray)]
    for key, value in state.items():
        assert type(value) in (int, float) or type(value) is np.ndarray, key
        assert not any(np.shares_memory(value, a) for a in live), key
        if key[0].isdigit() and key.endswith((".v", ".s")):
            assert value.dtype == np.float32 and value.shape == SHAPES[int(key[0])]  # float16's working dtype
    if name == "Adam":
        assert (state["0.t"], state["1.t"]) == (3, 2)
    kept = {k: np.copy(v) for k, v in state.items()}
    _run(opt, params, grads)
    for key, value in kept.items():
        np.testing.assert_array_equal(state[key], value)


def test_a_parameter_that_has_not_stepped_round_trips_as_empty(tmp_path):
    a, b = _params([np.ones(2), np.ones(3)])
    opt = ag.optim.Adam([a, b], 0.1)
    a.grad = np.ones(2)
    opt.step()
    state = opt.state_dict()
    assert not any(key.startswith("1.") for key in state)
    ag.save(state, tmp_path / "s.npz")
    fresh = ag.optim.Adam(_params([a.data, b.data]), 0.1)
    fresh.load_state_dict(ag.load(tmp_path / "s.npz"))
    assert fresh.state[1] == {} and fresh.state[0]["t"] == 1


def test_loaded_arrays_are_copies_and_cast_to_the_working_dtype():
    p = ag.Tensor(np.ones(3, np.float16), requires_grad=True)
    opt = ag.optim.Momentum([p], 0.1)
    v = np.array([0.5, 1e-6, -2.0])  # float64: cast to float32, float16's working dtype
    opt.load_state_dict({"kind": np.frombuffer(b"Momentum", np.uint8), "num_params": 1, "t": 4,
                         "lr": 0.1, "beta": 0.9, "0.v": v})
    assert opt.state[0]["v"].dtype == np.float32 and not np.shares_memory(opt.state[0]["v"], v)
    np.testing.assert_array_equal(opt.state[0]["v"], v.astype(np.float32))
    p.grad = np.ones(3, np.float16)
    opt.step()
    np.testing.assert_array_equal(v, [0.5, 1e-6, -2.0])


# --- against torch.optim over the continued run -------------------------------------------------
# (Momentum is left out: here v = beta v + (1 - beta) g from v = 0, torch.optim.SGD's first buffer is g)
def _torch_run(name, start, grads, dtype):
    tensors = [torch.tensor(v.copy(), requires_grad=True) for v in start]
    if name == "Adam":
        opt = torch.optim.Adam(tensors, lr=0.01, betas=(0.85, 0.99), eps=1e-7)
    else:
        opt = torch.optim.SGD(tensors, lr=0.01)
    for step in grads:
        for t, g in zip(tensors, step):
            t.grad = None if g is None else torch.tensor(g.copy())
        opt.step()
    return [t.detach().numpy() for t in tensors]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["GradientDescent", "Adam"])
def test_the_continued_run_agrees_with_torch_optim(name, dtype, tmp_path):
    start, grads = _setup(dtype, 9, seed=1)
    expected = _torch_run(name, start, grads, dtype)
    params = _params(start)
    opt = _make(name, params)
    _run(opt, params, grads[:4])
    ag.save(opt.state_dict(), tmp_path / "opt.npz")
    resumed = _params([p.data for p in params])
    fresh = _make(name, resumed, lr=1.0)
    fresh.load_state_dict(ag.load(tmp_path / "opt.npz"))
    _run(fresh, resumed, grads[4:])
    for p, e in zip(resumed, expected):
        if name == "Adam":  # (evaluated in PyTorch's order, see Adam's docstring: the same bits)
            np.testing.assert_array_equal(p.data, e)
        else:  # (torch's p.add_(g, alpha=-lr) may round once where p - lr * g rounds twice)
            np.testing.assert_allclose(p.data, e, rtol=2 * np.finfo(dtype).eps, atol=np.finfo(dtype).eps)


# --- refusals: named, and nothing changed -------------------------------------------------------
def _trained(name, dtype=np.float64):
    start, grads = _setup(dtype, 3)
    params = _params(start)
    opt = _make(name, params)
    _run(opt, params, grads)
    return opt


def _snapshot(opt):
    return (opt.t, [(key, getattr(opt, key)) for key in ("lr", "beta", "beta1", "beta2", "eps") if hasattr(opt, key)],
            [{k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in s.items()} for s in opt.state])


def _refused(opt, state, error, *needles):
    before = _snapshot(opt)
    with pytest.raises(error) as info:
        opt.load_state_dict(state)
    message = str(info.value)
    assert f"{type(opt).__name__}.load_state_dict" in message
    for needle in needles:
        assert needle in message, (needle, message)
    after = _snapshot(opt)
    assert after[:2] == before[:2]
    for old, new in zip(before[2], after[2]):
        assert old.keys() == new.keys()
        for key in old:
            np.testing.assert_array_equal(new[key], old[key])
    return message


@pytest.mark.parametrize("source, target", [("Adam", "Momentum"), ("Momentum", "Adam"),
                                            ("GradientDescent", "Adam"), ("Momentum", "GradientDescent")])
def test_another_optimizers_state_is_refused(source, target):
    _refused(_trained(target), _trained(source).state_dict(), ValueError, f"the state is {source}'s",
             f"expected what {target}.state_dict() returns")


def test_another_number_of_parameters_is_refused():
    opt = _trained("Adam")
    state = ag.optim.Adam(_params([np.ones(2)]), 0.1).state_dict()
    _refused(opt, state, ValueError, "the state is of 1 parameters, but this Adam has 2")


@pytest.mark.parametrize("name", ["Momentum", "Adam"])
def test_an_array_of_another_shape_is_refused_naming_the_parameter(name):
    state = _trained(name).state_dict()
    state["1.v"] = np.zeros(5)
    _refused(_trained(name), state, ValueError, "'1.v' of parameter 1 has shape (5,)", "shape (4,)")


@pytest.mark.parametrize("value, what", [(np.zeros(4, np.int64), "dtype int64"), (np.zeros(4, complex), "dtype complex128"),
                                         ([0.0] * 4, "a list"), (np.zeros(4, bool), "dtype bool")])
def test_a_non_float_array_is_refused_naming_the_parameter(value, what):
    state = _trained("Adam").state_dict()
    state["1.s"] = value
    _refused(_trained("Adam"), state, TypeError, f"'1.s' of parameter 1 is {what}", "real floating ndarray")


def test_a_moment_beyond_the_working_dtype_is_refused():
    state = _trained("Adam", np.float32).state_dict()
    state["0.s"] = np.full((3, 2), 1e300)
    _refused(_trained("Adam", np.float32), state, ValueError, "'0.s' of parameter 0 is float64 with values "
             "beyond float32's range")


@pytest.mark.parametrize("key, value, needle", [
    ("lr", float("nan"), "learning rate lr must be a finite number"),
    ("eps", 0.0, "eps must be > 0"),
    ("beta1", 1.0, "beta1 must be in [0, 1)"),
    ("beta2", np.array([0.9]), "beta2 must be a finite number"),
    ("t", 2.5, "the step count 't' must be a whole number from 0 to 2**53"),
    ("0.t", 0, "the step count '0.t' of parameter 0 must be a whole number from 1 to 2**53"),
    ("1.t", float("inf"), "the step count '1.t' of parameter 1"),
    ("num_params", True, "'num_params' must be a whole number"),
])
def test_a_refused_number_names_it_and_changes_nothing(key, value, needle):
    state = _trained("Adam").state_dict()
    state[key] = value
    _refused(_trained("Adam"), state, ValueError, needle)


def test_a_nan_momentum_beta_is_refused_with_the_constructors_message():
    state = _trained("Momentum").state_dict()
    state["beta"] = float("nan")
    message = _refused(_trained("Momentum"), state, ValueError)
    with pytest.raises(ValueError) as constructed:
        ag.optim.Momentum(_params([np.ones(1)]), 0.1, beta=float("nan"))
    assert message.partition(": ")[2] == str(constructed.value).partition(": ")[2]


@pytest.mark.parametrize("key", ["lr", "t", "kind", "num_params", "beta2", "1.s", "0.t"])
def test_a_missing_key_is_refused_naming_it(key):
    state = _trained("Adam").state_dict()
    del state[key]
    needles = {"kind": ["has no 'kind' entry"], "1.s": ["the state of parameter 1 lacks '1.s'"],
               "0.t": ["the state of parameter 0 lacks '0.t'"]}.get(key, [f"lacks '{key}'"])
    _refused(_trained("Adam"), state, ValueError, *needles)


def test_an_unexpected_key_is_refused_naming_it():
    state = _trained("Momentum").state_dict()
    state["momentum_buffer"] = np.zeros(2)
    _refused(_trained("Momentum"), state, ValueError, "unexpected 'momentum_buffer'")
    state = _trained("GradientDescent").state_dict()
    state["0.v"] = np.zeros((3, 2))
    _refused(_trained("GradientDescent"), state, ValueError, "unexpected '0.v'")


def test_a_failure_on_the_last_parameter_leaves_the_first_as_it_was():
    opt = _trained("Adam")
    state = _trained("Adam").state_dict()
    state["lr"], state["t"], state["0.v"] = 0.5, 99, state["0.v"] + 1
    state["1.v"] = np.zeros((2, 2))
    _refused(opt, state, ValueError, "parameter 1")
    assert opt.lr == 0.01 and opt.t == 3


def test_refusals_name_a_dict_parameters_key():
    W, b = _params([np.ones((3, 2)), np.ones(4)])
    opt = ag.optim.Momentum({"W": W, "b": b}, 0.1)
    state = _trained("Momentum").state_dict()
    state["1.v"] = np.zeros(3)
    _refused(opt, state, ValueError, "parameter 1 ('b')")


def test_a_state_that_is_not_a_mapping_is_refused():
    with pytest.raises(TypeError, match=r"Adam.load_state_dict: state must be a mapping"):
        _trained("Adam").load_state_dict([("t", 1)])


# --- opt.state filled by hand -------------------------------------------------------------------
def test_a_state_filled_by_hand_continues_as_a_loaded_one():
    start, grads = _setup(np.float32, 6)
    whole = _params(start)
    _run(_make("Adam", whole), whole, grads)
    first = _params(start)
    opt = _make("Adam", first)
    _run(opt, first, grads[:2])
    resumed = _params([p.data for p in first])
    fresh = _make("Adam", resumed)
    fresh.t = opt.t
    for own, saved in zip(fresh.state, opt.state):
        own.update(t=saved["t"], v=saved["v"].astype(np.float64), s=saved["s"].copy())
    _run(fresh, resumed, grads[2:])
    for a, b in zip(whole, resumed):
        np.testing.assert_array_equal(b.data, a.data)
    assert fresh.state[0]["v"].dtype == np.float32


def test_a_state_filled_by_hand_is_checked_by_state_dict_too():
    p = ag.Tensor(np.ones(2), requires_grad=True)
    opt = ag.optim.Momentum([p], 0.1)
    opt.state[0]["v"] = np.array([1.0, 2.0])
    np.testing.assert_array_equal(opt.state_dict()["0.v"], [1.0, 2.0])


@pytest.mark.parametrize("fill, error, needle", [
    ({"t": 5, "v": np.zeros(2)}, ValueError, "Adam: the state of parameter 0 lacks 's'"),
    ({"v": np.zeros(2), "s": np.zeros(2)}, ValueError, "Adam: the state of parameter 0 lacks 't'"),
    ({"t": 5, "v": np.zeros(2), "s": np.zeros(2), "m": 1}, ValueError, "has unexpected 'm'"),
    ({"t": 5, "v": np.zeros(3), "s": np.zeros(2)}, ValueError, "Adam: 'v' of parameter 0 has shape (3,)"),
    ({"t": 5, "v": np.zeros(2, int), "s": np.zeros(2)}, TypeError, "Adam: 'v' of parameter 0 is dtype int64"),
])
def test_a_bad_state_filled_by_hand_is_refused_at_the_step_before_any_change(fill, error, needle):
    p = ag.Tensor(np.ones(2), requires_grad=True)
    opt = ag.optim.Adam([p], 0.1)
    opt.state[0].update(fill)
    p.grad = np.ones(2)
    with pytest.raises(error) as info:
        opt.step()
    assert needle in str(info.value)
    np.testing.assert_array_equal(p.data, np.ones(2))
    assert opt.t == 0


def test_momentum_filled_by_hand_with_a_step_count_says_it_keeps_none():
    p = ag.Tensor(np.ones(2), requires_grad=True)
    opt = ag.optim.Momentum([p], 0.1)
    opt.state[0].update(t=5, v=np.zeros(2))
    p.grad = np.ones(2)
    with pytest.raises(ValueError, match=r"Momentum: the state of parameter 0 has unexpected 't'; Momentum keeps "
                                         r"'v' per parameter"):
        opt.step()


# --- any Mapping of parameters ------------------------------------------------------------------
class Params(collections.abc.Mapping):
    def __init__(self, **tensors):
        self._tensors = tensors

    def __getitem__(self, key):
        return self._tensors[key]

    def __iter__(self):
        return iter(self._tensors)

    def __len__(self):
        return len(self._tensors)


@pytest.mark.parametrize("wrap", [types.MappingProxyType, lambda d: Params(**d)])
@pytest.mark.parametrize("name", list(KINDS))
def test_any_mapping_of_params_is_taken_as_a_dict_is(name, wrap):
    start, grads = _setup(np.float64, 3)
    listed, mapped = _params(start), _params(start)
    _run(_make(name, listed), listed, grads)
    opt = _make(name, wrap({"W": mapped[0], "b": mapped[1]}))
    assert opt.params == mapped
    _run(opt, mapped, grads)
    for a, b in zip(listed, mapped):
        np.testing.assert_array_equal(b.data, a.data)
    mapped[1].grad = np.ones(5)
    with pytest.raises(ValueError, match=r"parameter 1 \('b'\) has shape \(4,\) but its .grad has shape \(5,\)"):
        opt.step()


def test_a_mapping_holding_a_non_tensor_names_its_key():
    with pytest.raises(TypeError, match=r"Adam: parameter 0 \('W'\) is a ndarray; expected a Tensor"):
        ag.optim.Adam(types.MappingProxyType({"W": np.ones(2)}), 0.1)
