"""Round 16, adv81: what ag.compile keys for installed libraries' objects and the standard library's holders.
Expected values from the math (the eager formula); running eagerly with a warning is allowed."""
import ctypes, functools, io, mmap, random, struct, threading, tracemalloc, warnings, weakref
import multiprocessing as mp
import numpy as np
import pytest
import autograd_lite as ag


def ones():
    return ag.Tensor(np.ones(2), requires_grad=True)


def run(f, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # running eagerly with a warning is fine
        return float(f(ones(), *args).data)


def test_threading_local_subclass_keys_per_thread():
    class Ctx(threading.local):
        def __init__(self):
            self.scale = 1.0
    ctx = Ctx()
    f = ag.compile(lambda x: ag.sum(x * ctx.scale))
    got = {}

    def work(v):
        ctx.scale = v
        got[v] = run(f)
    for v in (2.0, 3.0, 4.0):
        t = threading.Thread(target=work, args=(v,)); t.start(); t.join()
    assert got == {2.0: 4.0, 3.0: 6.0, 4.0: 8.0}


def test_torch_tensor_changed_in_place_is_not_replayed():
    torch = pytest.importorskip("torch")
    s = torch.tensor(1.0)
    f = ag.compile(lambda x: ag.sum(x * float(s)))
    out = []
    for v in (1.0, 2.0, 3.0):
        s.fill_(v); out.append(run(f))
    assert out == [2.0, 4.0, 6.0]


def test_tqdm_counter_read_is_not_replayed():
    tqdm = pytest.importorskip("tqdm").tqdm
    bar = tqdm(total=10, file=io.StringIO())
    f = ag.compile(lambda x: ag.sum(x * bar.n))
    out = []
    for _ in range(3):
        bar.update(1); out.append(run(f))
    assert out == [2.0, 4.0, 6.0]


def test_multiprocessing_queue_is_not_replayed():
    q = mp.Queue()
    f = ag.compile(lambda x: ag.sum(x * q.get(timeout=5)))
    out = []
    for v in (1.0, 2.0, 3.0):
        q.put(v); out.append(run(f))
    assert out == [2.0, 4.0, 6.0]


def test_pipe_connection_is_not_replayed():
    a, b = mp.Pipe()
    f = ag.compile(lambda x: ag.sum(x * b.recv()))
    out = []
    for v in (1.0, 2.0, 3.0):
        a.send(v); out.append(run(f))
    assert out == [2.0, 4.0, 6.0]


def test_mmap_read_position_is_seen():
    m = mmap.mmap(-1, 32); m.write(struct.pack("4d", 1, 2, 3, 4)); m.seek(0)
    f = ag.compile(lambda x: ag.sum(x * struct.unpack("d", m.read(8))[0]))
    assert [run(f) for _ in range(4)] == [2.0, 4.0, 6.0, 8.0]


def test_ctypes_pointer_in_a_structure_field_is_not_replayed():
    class S(ctypes.Structure):
        _fields_ = [("p", ctypes.POINTER(ctypes.c_double))]
    arr = (ctypes.c_double * 1)(1.0)
    s = S(ctypes.cast(arr, ctypes.POINTER(ctypes.c_double)))
    f = ag.compile(lambda x: ag.sum(x * s.p[0]))
    out = []
    for v in (1.0, 2.0, 3.0):
        arr[0] = v; out.append(run(f))
    assert out == [2.0, 4.0, 6.0]


def test_c_void_p_target_is_not_replayed():
    arr = (ctypes.c_double * 1)(1.0)
    vp = ctypes.c_void_p(ctypes.addressof(arr))
    f = ag.compile(lambda x: ag.sum(x * ctypes.cast(vp, ctypes.POINTER(ctypes.c_double))[0]))
    out = []
    for v in (1.0, 2.0, 3.0):
        arr[0] = v; out.append(run(f))
    assert out == [2.0, 4.0, 6.0]


class _Hyper:
    lambd = 1.0


class _Outer:
    Inner = _Hyper


def test_config_class_in_a_partial_argument_is_keyed_by_its_data():
    p = functools.partial(lambda x, h: ag.sum(x * h.lambd), h=_Hyper)
    f = ag.compile(lambda x, q: q(x))
    out = []
    try:
        for v in (1.0, 2.0, 3.0):
            _Hyper.lambd = v; out.append(run(f, p))
    finally:
        _Hyper.lambd = 1.0
    assert out == [2.0, 4.0, 6.0]


def test_nested_config_class_of_a_class_argument_is_keyed_by_its_data():
    f = ag.compile(lambda x, o: ag.sum(x * o.Inner.lambd))
    out = []
    try:
        for v in (1.0, 2.0, 3.0):
            _Hyper.lambd = v; out.append(run(f, _Outer))
    finally:
        _Hyper.lambd = 1.0
    assert out == [2.0, 4.0, 6.0]


def test_generator_reached_through_a_library_object_is_not_replayed():
    st = pytest.importorskip("scipy.stats")
    d = st.norm(); d.random_state = np.random.default_rng(0)
    f = ag.compile(lambda x: ag.sum(x * d.rvs(2)))
    got = [run(f) for _ in range(3)]
    want_rng = np.random.default_rng(0)
    want = [float(np.sum(want_rng.standard_normal(2))) for _ in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_random_Random_instance_is_not_replayed():
    r = random.Random(0)
    f = ag.compile(lambda x: ag.sum(x * r.random()))
    got = [run(f) for _ in range(3)]
    r2 = random.Random(0)
    assert got == [2 * r2.random() for _ in range(3)]


def test_library_object_dict_attribute_is_seen():
    st = pytest.importorskip("scipy.stats")
    d = st.norm(loc=0.0, scale=1.0)
    f = ag.compile(lambda x: ag.sum(x * d.std()))
    out = []
    for s in (1.0, 2.0, 3.0):
        d.kwds["scale"] = s; out.append(run(f))
    np.testing.assert_allclose(out, [2.0, 4.0, 6.0])


def test_closed_mmap_in_arguments_does_not_crash_the_key():
    m = mmap.mmap(-1, 16); m.close()
    f = ag.compile(lambda x, extras: ag.sum(x * 2.0))
    assert run(f, [m]) == 4.0


def test_released_memoryview_in_arguments_does_not_crash_the_key():
    mv = memoryview(bytearray(8)); mv.release()
    f = ag.compile(lambda x, extras: ag.sum(x * 2.0))
    assert run(f, [mv]) == 4.0


def test_traces_keyed_by_a_big_bytearray_do_not_each_hold_a_copy():
    size = 32 * 2**20
    big = bytearray(size)
    f = ag.compile(lambda x, b: ag.sum(x * float(b[0] + 1)))
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for i in range(4):
            big[0] = i
            assert run(f, big) == 2.0 * (i + 1)
        held = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert held < size  # four traces: not four copies of the buffer


class _Cfg:
    scale = 2.0


def test_weakref_proxy_is_not_called_an_iterator():
    c = _Cfg(); p = weakref.proxy(c)
    f = ag.compile(lambda x, cfg: ag.sum(x * cfg.scale))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert float(f(ones(), p).data) == 4.0
    assert not any("iterator" in str(m.message) for m in w)
    assert any("weakref.proxy" in str(m.message) and "_Cfg" in str(m.message) for m in w)


def test_dead_weakref_proxy_in_arguments_does_not_crash_the_key():
    c = _Cfg(); p = weakref.proxy(c); del c
    f = ag.compile(lambda x, extras: ag.sum(x * 2.0))
    assert run(f, [p]) == 4.0
