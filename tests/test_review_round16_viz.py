"""Round 16 (adv75, finding 4, left to the engine): a Graphviz `dot` stopped by a signal is named as
such by ag.draw (it read "could not lay out this graph (exit status -9)", advising fewer steps)."""
import os
import stat

import numpy as np
import pytest

import autograd_lite as ag


@pytest.mark.skipif(os.name != "posix", reason="a shell script stands in for dot")
def test_a_dot_killed_by_a_signal_is_named_and_nothing_is_written(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nkill -9 $$\n")  # (dies as the OOM killer would end it)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    x = ag.Tensor(np.ones(2), requires_grad=True, name="x")
    target = tmp_path / "graph.svg"
    with pytest.raises(RuntimeError, match=r"^draw: Graphviz's `dot` was stopped by signal 9 \(SIGKILL\) "
                                           r"before it finished; nothing was written to '.*graph\.svg'$"):
        ag.draw(ag.sum(x * 2), target)
    assert not target.exists()
