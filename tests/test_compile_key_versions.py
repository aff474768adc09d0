"""ag.compile keys a value a class holds for its objects the same way on every Python (3.11 to 3.13): a
``functools.partial`` or a callable object in a class body, read off an object, a class or a classmethod's
``cls`` and then replaced, traces anew, whether or not its type has a ``__get__``. Python 3.13 gives
``functools.partial`` one (returning the partial itself), so the key took it for a method and did not key
which partial the class held: compiled 12.0 where eager gave 18.0 (adv80 finding 2b). ``_SelfPartial``
and ``_Scale`` have such a ``__get__`` on any Python. A class's static and class methods and properties
replay too (they made every call run eagerly, with a warning). And a mode tells a `with` statement's entry
from a call of ``__enter__`` on this Python. Expected values from the math: sum(x) * k."""
import functools
import warnings
from contextlib import ExitStack

import numpy as np
import pytest

import autograd_lite as ag
from autograd_lite import modes

X = np.array([1.0, 2.0, 3.0])
pytestmark = pytest.mark.filterwarnings("ignore:functools.partial will be a method descriptor:FutureWarning")


def _mul(t, k):
    return t * k


class _SelfPartial(functools.partial):
    """A partial whose ``__get__`` returns itself, as Python 3.13's does."""

    def __get__(self, obj, owner=None):
        return self


class _Scale:
    """A callable object of the user's classes, no function, whose ``__get__`` returns itself."""

    def __init__(self, k):
        self.k = k

    def __call__(self, t):
        return t * self.k

    def __get__(self, obj, owner=None):
        return self


_MAKERS = {"partial": lambda k: functools.partial(_mul, k=k), "partial with __get__": lambda k: _SelfPartial(_mul, k=k),
           "callable object with __get__": _Scale}


def _compiled(make, reader):
    """The class holding ``act`` (k=2) in its body, and a compiled function reading it off an object (a
    method's ``self``; a config object the function reads), off the class itself, or off a classmethod's
    ``cls`` (only then has the class a classmethod: each case reads ``act`` one way)."""
    class Model:
        act = make(2.0)

        def forward(self, t):
            return self.act(t)

    model = Model()
    if reader == "cls":
        Model.by_cls = classmethod(lambda cls, t: cls.act(t))
    fn = {"self": lambda t: ag.sum(model.forward(t)), "config object": lambda t: ag.sum(model.act(t)),
          "class": lambda t: ag.sum(Model.act(t)), "cls": lambda t: ag.sum(Model.by_cls(t))}[reader]
    return Model, ag.compile(fn)


def _value(step):
    return step(ag.Tensor(X.copy())).item()


@pytest.mark.parametrize("reader", ["self", "config object", "class", "cls"])
@pytest.mark.parametrize("kind", list(_MAKERS))
def test_a_callable_in_a_class_body_replaced_traces_anew(kind, reader):
    make = _MAKERS[kind]
    Model, step = _compiled(make, reader)
    assert [_value(step) for _ in range(2)] == [pytest.approx(X.sum() * 2.0)] * 2
    assert step.replays == 1  # (compiled, not run eagerly: the same partial again replays)
    Model.act = make(3.0)
    assert _value(step) == pytest.approx(X.sum() * 3.0)  # (it replayed k=2 before: 12.0 for 18.0)
    Model.act = make(5.0)
    assert _value(step) == pytest.approx(X.sum() * 5.0)


def test_a_callable_object_with_get_changed_in_place_traces_anew():
    Model, step = _compiled(_Scale, "self")
    assert _value(step) == pytest.approx(X.sum() * 2.0)
    Model.act.k = 4.0
    assert _value(step) == pytest.approx(X.sum() * 4.0)


def test_methods_of_every_kind_still_replay_without_a_warning():
    class Model:
        scale = 2.0

        def forward(self, t):
            return self.helper(t) + self.twice(t) + self.by_cls(t) + t * self.k

        def helper(self, t):
            return t * self.scale

        @staticmethod
        def twice(t):
            return t * 2.0

        @classmethod
        def by_cls(cls, t):
            return t * cls.scale

        @property
        def k(self):
            return 3.0

    model = Model()
    step = ag.compile(lambda t: ag.sum(model.forward(t)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (a method keyed as an opaque value would run eagerly, warning)
        values = [_value(step) for _ in range(3)]
    assert values == [pytest.approx(X.sum() * 9.0)] * 3
    assert step.replays == 2
    Model.scale = 4.0
    assert _value(step) == pytest.approx(X.sum() * 13.0)


def test_a_with_statement_entry_is_told_from_an_exit_stacks_on_this_python():
    mode = ag.no_grad()
    with mode:
        by_statement = mode._saved[-1][3]
    with ExitStack() as stack:
        stack.enter_context(mode)
        by_call = mode._saved[-1][3]
    assert (by_statement, by_call) == (True, False)
    assert modes._WITH  # (an opcode to tell them by on 3.11 to 3.14)
