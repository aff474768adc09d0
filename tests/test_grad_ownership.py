"""Who owns a ``.grad``: a gradient array nothing else holds becomes ``.grad`` as it is
(``conform.owned``: no copy of every weight's gradient), any array something else holds is
copied, so no ``.grad`` shares memory with another ``.grad``, an input, an output, a seed or an
array a rule kept. Expected values from the rules' math, by hand."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import autograd_lite as ag

RNG = np.random.default_rng(20261201)


def _fresh_result_vjp(made):
    """A primitive x * 3 whose VJP returns a new array, noted in ``made`` by its id (a weak reference would
    mark it as cached, which run_rule copies; the id cannot be reused while the array, adopted, lives on)."""
    triple = ag.primitive(lambda x: x * 3.0, name="triple")

    def vjp(g, out, x):
        result = g * 3.0
        made.append(id(result))
        return result
    return triple.defvjp(vjp)


def test_an_unshared_gradient_becomes_the_grad_itself():
    made = []
    x = ag.Tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    _fresh_result_vjp(made)(x).sum().backward()
    assert id(x.grad) == made[0]  # adopted, not copied
    np.testing.assert_array_equal(x.grad, np.full((4, 3), 3.0))


@pytest.mark.parametrize("compiled", [False, True])
def test_one_gradient_for_two_inputs_gives_two_arrays(compiled):
    # (a + b) * c: add hands one g * c to both a and b
    a, b, c = (ag.Tensor(RNG.standard_normal((3, 2)), requires_grad=True) for _ in range(3))
    cost = lambda a, b, c: ((a + b) * c).sum()
    fn = ag.compile(cost) if compiled else cost
    for _ in range(3 if compiled else 1):
        for t in (a, b, c):
            t.grad = None
        fn(a, b, c).backward()
    assert not np.shares_memory(a.grad, b.grad)
    np.testing.assert_array_equal(a.grad, c.data)
    a.grad *= 0  # a learner zeroing one .grad by hand leaves the other as it was
    np.testing.assert_array_equal(b.grad, c.data)


@pytest.mark.parametrize("returned", ["input", "output", "kept"])
def test_an_array_a_rule_shares_is_copied(returned):
    kept = np.ones((2, 2))
    ident = ag.primitive(lambda x: x.copy(), name="ident")
    ident.defvjp({"input": lambda g, out, x: x, "output": lambda g, out, x: out,
                  "kept": lambda g, out, x: kept}[returned])
    x = ag.Tensor(np.arange(4.0).reshape(2, 2), requires_grad=True)
    y = ident(x)
    y.sum().backward()
    expected = {"input": x.data, "output": y.data, "kept": kept}[returned].copy()
    for other in (x.data, y.data, kept):
        assert not np.shares_memory(x.grad, other)
    x.grad += 1  # writing into x.grad changes neither x, y nor the rule's array
    np.testing.assert_array_equal(x.grad, expected + 1)
    np.testing.assert_array_equal(x.data, np.arange(4.0).reshape(2, 2))
    np.testing.assert_array_equal(kept, np.ones((2, 2)))


def test_a_seed_given_to_a_leaf_is_copied():
    x = ag.Tensor(np.zeros(3), requires_grad=True)
    seed = np.array([1.0, 2.0, 3.0])
    x.backward(grad=seed)
    assert not np.shares_memory(x.grad, seed)
    seed[:] = 0
    np.testing.assert_array_equal(x.grad, [1.0, 2.0, 3.0])


def test_a_retained_gradient_passed_on_is_copied():
    # y = x * 1 retained: its gradient g is also x's (mul by 1 gives g * 1, a new array), and
    # z = y + w hands one g to y and w
    x, w = ag.Tensor(RNG.standard_normal(3), requires_grad=True), ag.Tensor(np.ones(3), requires_grad=True)
    y = (x * 2.0).retain_grad()
    ((y + w) * 5.0).sum().backward()
    assert not np.shares_memory(y.grad, w.grad)
    np.testing.assert_array_equal(y.grad, np.full(3, 5.0))
    np.testing.assert_array_equal(w.grad, np.full(3, 5.0))
    np.testing.assert_array_equal(x.grad, np.full(3, 10.0))


def test_accumulating_into_an_adopted_grad_changes_no_other_array():
    made = []
    triple = _fresh_result_vjp(made)
    x = ag.Tensor(np.ones((2, 3)), requires_grad=True)
    triple(x).sum().backward()
    first = x.grad
    triple(x).sum().backward()  # the second gradient (adopted) takes the first added into it
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 6.0))
    np.testing.assert_array_equal(first, np.full((2, 3), 3.0))


def test_an_owning_gradient_whose_entries_share_memory_is_copied():
    # a rule returning one stored value for every entry (strides 0, yet owning its buffer): .grad's
    # entries must be independent, as PyTorch's AccumulateGrad makes them
    scale3 = ag.primitive(lambda x: 3.0 * x, name="scale3")

    def vjp(g, out, x):
        c = np.ndarray(x.shape, dtype=x.dtype, strides=(0,) * x.ndim)
        c[...] = 3.0
        return c
    x = ag.Tensor(np.arange(4.0), requires_grad=True)
    scale3.defvjp(vjp)(x).sum().backward()
    x.grad[0] = 0.0
    np.testing.assert_array_equal(x.grad, [0.0, 3.0, 3.0, 3.0])


def test_a_locals_watcher_during_import_does_not_make_backward_adopt_shared_arrays():
    # A debugger's variables view (here a trace hook keeping every conform.py frame's locals) while
    # autograd_lite is imported: the count of an unshared gradient must not come out higher, or
    # add's one g would become both .grads and a rule's kept array a .grad
    program = textwrap.dedent("""
        import sys
        import numpy as np
        kept_locals = []
        def watch(frame, event, arg):
            if frame.f_code.co_filename.endswith("conform.py"):
                kept_locals.append(dict(frame.f_locals))
            return watch
        sys.settrace(watch)
        import autograd_lite as ag
        sys.settrace(None)
        a, b = (ag.Tensor(np.ones(3), requires_grad=True) for _ in range(2))
        c = ag.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
        for _ in range(2):
            ((a + b) * c).sum().backward()
        kept = []
        double = ag.primitive(lambda x: 2.0 * x, name="double")
        double.defvjp(lambda g, out, x: kept.append(g * 2.0) or kept[-1])
        x = ag.Tensor(np.arange(4.0), requires_grad=True)
        double(x).sum().backward()
        x.grad *= 0
        print(int(np.shares_memory(a.grad, b.grad)), *a.grad, *b.grad, *kept[0])
    """)
    root = os.path.dirname(os.path.dirname(os.path.abspath(ag.__file__)))
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=root))
    assert done.returncode == 0, done.stderr
    shared, *values = done.stdout.split()
    assert shared == "0"
    np.testing.assert_array_equal(np.array(values, float), [2.0, 4.0, 6.0] * 2 + [2.0] * 4)
