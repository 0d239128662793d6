"""The one thread that cancels Report and Enrol calls whose body does not arrive in time.

Stands for a collector under a fleet's load: hundreds of calls a second, each with a receive deadline
that is almost always cancelled because the body arrives, and now and then a slow or silent caller whose
deadline fires.
"""

from __future__ import annotations

import threading
import time

import pytest

from ronda.collector.receiving import Deadlines


def test_actions_run_in_the_order_of_their_deadlines_not_of_adding():
    deadlines = Deadlines()
    ran: list[str] = []
    done = threading.Event()
    deadlines.after(0.30, lambda: (ran.append("late"), done.set()))
    deadlines.after(0.05, lambda: ran.append("early"))
    deadlines.after(0.15, lambda: ran.append("middle"))
    assert done.wait(5)
    assert ran == ["early", "middle", "late"]


def test_a_cancelled_deadline_never_runs_and_others_still_do():
    deadlines = Deadlines()
    ran: list[str] = []
    done = threading.Event()
    deadlines.after(0.05, lambda: ran.append("cancelled")).cancel()
    kept = deadlines.after(0.10, lambda: (ran.append("kept"), done.set()))
    assert done.wait(5)
    assert ran == ["kept"]
    assert kept.fired


@pytest.mark.parametrize("calls", [10, 5000])
def test_cancelled_deadlines_do_not_pile_up(calls):
    """Bodies arrive long before their 60 s deadline: what is cancelled is forgotten, not kept a minute."""
    deadlines = Deadlines()
    for _ in range(calls):
        deadlines.after(60, lambda: None).cancel()
    assert deadlines.pending() == 0
    assert len(deadlines._due) <= 2048


def test_an_action_that_fails_does_not_stop_later_deadlines(caplog):
    deadlines = Deadlines()
    done = threading.Event()

    def broken() -> None:
        raise RuntimeError("the call was already gone")

    deadlines.after(0.01, broken)
    deadlines.after(0.05, done.set)
    assert done.wait(5)
    assert "action failed" in caplog.text


def test_a_deadline_added_earlier_than_every_other_wakes_the_thread():
    """The thread sleeps until the earliest deadline; a new, earlier one must not wait for that."""
    deadlines = Deadlines()
    deadlines.after(30, lambda: None)
    time.sleep(0.05)  # the thread is asleep until the 30 s deadline
    done = threading.Event()
    started = time.monotonic()
    deadlines.after(0.05, done.set)
    assert done.wait(5)
    assert time.monotonic() - started < 2


@pytest.mark.servers
def test_a_forked_child_keeps_deadlines_with_a_thread_of_its_own(tmp_path):
    """A process that forks after serving (a test harness, a daemon that double-forks): the parent's
    deadline thread does not run in the child, so the child starts its own."""
    import os

    from ronda.collector.receiving import DEADLINES

    DEADLINES.after(60, lambda: None).cancel()  # the parent's thread runs
    marker = tmp_path / "fired"
    pid = os.fork()
    if pid == 0:  # the child
        done = threading.Event()
        DEADLINES.after(0.05, done.set)
        if done.wait(5):
            marker.write_text("yes")
        os._exit(0)
    os.waitpid(pid, 0)
    assert marker.read_text() == "yes"
