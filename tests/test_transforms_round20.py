"""Transforms, round 20: a graph f closes over (made before the call) is a constant there, as under
torch.func and JAX, so what happened to it (freed by backward(), its input edited in place, an inf in
its own derivative) does not matter; hvp passes keywords to f. Reference values by hand."""
import numpy as np
import pytest

import autograd_lite as ag

X = np.array([0.5, 1.5])


def _freed():
    p = ag.Tensor([1.0, 2.0], requires_grad=True)
    w = ag.exp(p)
    ag.sum(w).backward()  # (an ordinary training step: w's graph is freed)
    return w, np.exp([1.0, 2.0])


def _edited():
    q = ag.Tensor([1.0, 2.0], requires_grad=True)
    w = q * 3.0
    with ag.no_grad():
        q -= 0.1  # (an optimizer step after w was made)
    return w, np.array([3.0, 6.0])


@pytest.mark.parametrize("closed_over", [_freed, _edited], ids=["freed", "edited in place"])
def test_every_transform_takes_a_closed_over_graph_as_a_constant(closed_over):
    w, value = closed_over()
    np.testing.assert_allclose(ag.grad(lambda x: ag.sum(x * w))(X), value, rtol=1e-15)
    out, tangent = ag.jvp(lambda x: x * w, (X,), (np.ones(2),))
    np.testing.assert_allclose(out, X * value, rtol=1e-15)
    np.testing.assert_allclose(tangent, value, rtol=1e-15)
    np.testing.assert_allclose(ag.jacobian(lambda x: x * w)(X), np.diag(value), rtol=1e-15)
    np.testing.assert_allclose(ag.hvp(lambda x: ag.sum(x * x * w))(X, np.ones(2)), 2 * value, rtol=1e-15)
    _, vjp_fn = ag.vjp(lambda x: x * w, X)
    np.testing.assert_allclose(vjp_fn(np.ones(2))[0], value, rtol=1e-15)


def test_anomaly_mode_ignores_the_derivative_of_a_closed_over_graph():
    r = ag.Tensor([0.0, 4.0], requires_grad=True)
    w = ag.sqrt(r)  # (d sqrt / dr is inf at 0, a derivative nobody asks for below)
    with ag.detect_anomaly():
        np.testing.assert_array_equal(ag.grad(lambda x: ag.sum(x * w))(X), [0.0, 2.0])
        np.testing.assert_array_equal(ag.jacobian(lambda x: x * w)(X), [[0.0, 0.0], [0.0, 2.0]])
        np.testing.assert_array_equal(ag.grad(lambda x, v: ag.sum(x * v), argnums=0)(X, w), [0.0, 2.0])


def test_a_freed_node_on_the_path_to_an_input_is_still_refused():
    from autograd_lite import tape
    from autograd_lite.forward import push_forward
    x = ag.Tensor(X, requires_grad=True)
    y = ag.exp(x)
    ag.sum(y).backward()  # (frees y's graph, which leads to x: no gradient can be told then)
    with pytest.raises(ag.GraphError, match="freed"):
        ag.sum(y).backward()
    with pytest.raises(ag.GraphError, match="freed"):
        tape.backward(ag.sum(y * 1.0), np.float64(1.0), inputs=[x])  # (as ag.grad walks, x an input)
    with pytest.raises(ag.GraphError, match="freed"):  # (forward mode: a tangent seeded on x reaches y)
        push_forward([y], {x: np.ones(2)})


def test_the_walk_skips_a_large_closed_over_graph(monkeypatch):
    p = ag.Tensor(np.ones(3), requires_grad=True)
    w = p
    for _ in range(50):
        w = ag.exp(w * 1e-3)
    exp, calls = w._prim, []  # (exp's rule, counted: the walk applies it once per exp node it walks)
    real = exp.input_grads
    monkeypatch.setattr(exp, "input_grads", lambda *args: calls.append(1) or real(*args), raising=False)
    np.testing.assert_allclose(ag.grad(lambda x: ag.sum(x * w))(np.ones(3)), w.data, rtol=1e-15)
    assert calls == []  # (the 50 exp nodes behind w are older than x: none can lead to it)
    ag.sum(w).backward()  # (the user's own backward still walks them all)
    assert len(calls) == 50


def test_hvp_passes_keywords_to_f():
    f = lambda a, scale=1.0: ag.sum(a ** 3) * scale
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(ag.hvp(f)(x, x, scale=3.0), 3.0 * 6 * x * x, rtol=1e-15)  # H = diag(6 a) * scale


def test_an_output_older_than_every_input_has_a_zero_derivative():
    p = ag.Tensor([1.0, 2.0], requires_grad=True)
    w = p * 3
    w.sum().backward()  # (w's graph freed)
    x0 = np.array([0.5, 0.7])
    (out, kept), (tangent, constant) = ag.jvp(lambda x: (x * 2, w), (x0,), (x0,))
    np.testing.assert_array_equal(tangent, 2 * x0)
    np.testing.assert_array_equal(constant, [0.0, 0.0])
    np.testing.assert_array_equal(ag.vjp(lambda x: (x * 2, w), x0)[1]((np.ones(2), np.ones(2)))[0], [2.0, 2.0])
    np.testing.assert_array_equal(ag.jacobian(lambda x: w)(x0), np.zeros((2, 2)))
    total = (p * 3).sum()
    total.backward()
    np.testing.assert_array_equal(ag.grad(lambda x: total)(x0), [0.0, 0.0])


def test_nothing_to_differentiate_walks_nothing():
    p = ag.Tensor([1.0, 2.0], requires_grad=True)
    w = p * 3
    w.sum().backward()  # (w's graph freed: walking it would be refused)
    assert ag.grad(lambda extra, x: (x * w).sum())({}, np.array([0.5, 0.7])) == {}
    value, tangent = ag.jvp(lambda: (w * 2).sum(), (), ())
    assert value == 18.0 and tangent == 0.0


@pytest.mark.parametrize("transform", [
    lambda f: ag.grad(f)(np.array([1.0, 2.0])),
    lambda f: ag.jvp(f, (np.array([1.0, 2.0]),), (np.ones(2),)),
    lambda f: ag.hessian(f)(np.array([1.0, 2.0])),
], ids=["grad", "jvp", "hessian"])
@pytest.mark.parametrize("switch_off", [lambda x: x.requires_grad_(False), lambda x: setattr(x, "requires_grad", False)],
                         ids=["requires_grad_", "attribute"])
def test_switching_off_a_transforms_variable_is_refused(transform, switch_off):
    def f(x):
        switch_off(x)
        return (x * x).sum()
    with pytest.raises(ag.GraphError, match="requires_grad"):
        transform(f)


def test_switching_off_another_tensor_inside_a_transform_still_works():
    def f(x):
        y = ag.Tensor([1.0, 2.0], requires_grad=True)
        y.requires_grad_(False)
        return (x * y).sum()
    np.testing.assert_array_equal(ag.grad(f)(np.array([3.0, 4.0])), [1.0, 2.0])


def test_a_closed_over_input_an_op_cannot_differentiate_is_a_constant_there():
    @ag.primitive
    def scale(x, w):
        return x * w
    scale.defvjp(lambda g, out, x, w: g * w, None)  # (no rule for w)
    scale.defjvp(lambda t, out, x, w: t * w, None)
    w = ag.Tensor([2.0, 3.0], requires_grad=True)
    f = lambda x: scale(x, w).sum()
    np.testing.assert_array_equal(ag.grad(f)(np.ones(2)), [2.0, 3.0])
    assert ag.jvp(f, (np.ones(2),), (np.ones(2),))[1] == 5.0
    teacher = ag.softmax(ag.Tensor(np.array([[0.0, 1.0], [1.0, 0.0]]), requires_grad=True), axis=0)
    z0 = np.array([[0.5, -0.5], [0.0, 1.0]])
    expected = (np.exp(z0) / np.exp(z0).sum(axis=0) - teacher.data) / 2  # (softmax(z) - labels) / m, by hand
    np.testing.assert_allclose(ag.grad(lambda z: ag.cross_entropy(z, teacher))(z0), expected, rtol=1e-14)
    with pytest.raises(ag.GraphError, match=r"not differentiable with respect to input 1 \(shape \(2,\)\), which"):
        scale(ag.Tensor(np.ones(2), requires_grad=True), w).sum().backward()  # (w on the walk's path: refused)


def test_recording_into_a_closed_over_tensor_inside_a_transform_is_refused():
    buffer = ag.Tensor(np.zeros(2))

    def f(x):
        buffer.__iadd__(x)  # buffer += x: recorded into a tensor made before the call
        return (buffer * buffer).sum()
    for _ in range(2):  # (refused every time, the buffer left as a constant leaf)
        with pytest.raises(ag.GraphError, match=r"'\+=' inside a transform .* on a tensor its f closes over"):
            ag.grad(f)(np.array([0.5, 0.7]))
        assert not buffer.requires_grad and buffer.is_leaf
    own = lambda x: (lambda b: (b.__iadd__(x), (b * b).sum())[1])(ag.Tensor(np.ones(2)))  # (f's own tensor)
    np.testing.assert_array_equal(ag.grad(own)(np.array([0.5, 0.7])), [3.0, 3.4])
