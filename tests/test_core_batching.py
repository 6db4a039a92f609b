"""Group commit (core/batching.py): what threads hand in while one writes is written together."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import pytest

from petition.core.batching import ALONE, GroupCommit


class Recorder:
    """write_one / write_many that record their calls and the thread of each; the first
    write_one waits for `release` (a writer's turn that takes a while)."""

    def __init__(self, many_result=None) -> None:
        self.one: list[tuple[str, str]] = []
        self.many: list[list[str]] = []
        self.writing = threading.Event()
        self.release = threading.Event()
        self.many_result = many_result

    def write_one(self, item: str) -> str:
        self.one.append((item, threading.current_thread().name))
        if len(self.one) == 1:
            self.writing.set()
            assert self.release.wait(10)
        if item.startswith("bad"):
            raise ValueError(item)
        return f"one:{item}"

    def write_many(self, items):
        self.many.append(list(items))
        if self.many_result is not None:
            return self.many_result(items)
        return [f"many:{item}" for item in items]


def run_together(
    group: GroupCommit,
    recorder: Recorder,
    first: str,
    rest: list[str],
    answered: dict[str, threading.Event] | None = None,
) -> dict:
    """`first` starts writing alone; `rest` are handed in (a thread each) while it writes, then
    it finishes. Each thread's result or exception, by item; `answered[item]` is set as its
    thread has it."""
    results: dict[str, object] = {}

    def submit(item: str) -> None:
        try:
            results[item] = group.submit(item)
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            results[item] = exc
        if answered is not None:
            answered[item].set()

    threads = [threading.Thread(target=submit, args=(first,), name=f"t-{first}")]
    threads[0].start()
    assert recorder.writing.wait(10)
    for item in rest:
        thread = threading.Thread(target=submit, args=(item,), name=f"t-{item}")
        threads.append(thread)
        thread.start()
    deadline = time.monotonic() + 10
    while len(group._queue) < len(rest):  # noqa: SLF001 - all of them wait for the writer
        assert time.monotonic() < deadline, "the threads did not queue"
        time.sleep(0.005)
    recorder.release.set()
    for thread in threads:
        thread.join(10)
        assert not thread.is_alive()
    return results


def test_a_lone_item_is_written_at_once_by_its_own_thread():
    recorder = Recorder()
    recorder.release.set()
    group = GroupCommit(recorder.write_one, recorder.write_many)
    assert group.submit("a") == "one:a"
    assert recorder.one == [("a", threading.current_thread().name)]
    assert recorder.many == []
    assert group.submit("b") == "one:b"  # the turn was handed back


def test_items_handed_in_while_one_is_written_are_written_together():
    recorder = Recorder()
    group = GroupCommit(recorder.write_one, recorder.write_many)
    results = run_together(group, recorder, "a", ["b", "c", "d"])
    assert results == {"a": "one:a", "b": "many:b", "c": "many:c", "d": "many:d"}
    assert [sorted(batch) for batch in recorder.many] == [["b", "c", "d"]]
    assert (group.batches, group.batched_items) == (1, 3)
    assert not group._leading  # noqa: SLF001 - the next item writes at once
    recorder.release.set()
    assert group.submit("e") == "one:e"


def test_a_batch_holds_at_most_max_size_and_the_rest_follows():
    recorder = Recorder()
    group = GroupCommit(recorder.write_one, recorder.write_many, max_size=2)
    results = run_together(group, recorder, "a", ["b", "c", "d", "e", "f"])
    assert set(results) == set("abcdef")
    assert all(len(batch) <= 2 for batch in recorder.many)
    written = sorted(item for batch in recorder.many for item in batch)
    written += [item for item, _thread in recorder.one[1:]]  # a last one alone
    assert sorted(written) == ["b", "c", "d", "e", "f"]


def test_each_item_gets_its_own_result_exception_or_write_of_its_own():
    """ALONE: written by write_one in the thread that handed it in; an exception: raised there
    only."""

    def mixed(items):
        by_item = {"b": "many:b", "c": ALONE, "d": LookupError("d")}
        return [by_item[item] for item in items]

    recorder = Recorder(many_result=mixed)
    group = GroupCommit(recorder.write_one, recorder.write_many)
    results = run_together(group, recorder, "a", ["b", "c", "d"])
    assert results["a"] == "one:a"
    assert results["b"] == "many:b"
    assert results["c"] == "one:c"
    assert isinstance(results["d"], LookupError)
    assert ("c", "t-c") in recorder.one  # its own thread, not the writer's


def test_a_batch_that_fails_is_written_one_item_at_a_time():
    """write_many raised: it wrote nothing, so each item is written alone, and an item that
    fails alone too raises in its own thread."""

    def fail(_items):
        raise RuntimeError("database went away")

    recorder = Recorder(many_result=fail)
    group = GroupCommit(recorder.write_one, recorder.write_many)
    results = run_together(group, recorder, "a", ["b", "bad-c"])
    assert results["a"] == "one:a"
    assert results["b"] == "one:b"
    assert isinstance(results["bad-c"], ValueError)
    assert sorted(item for item, _thread in recorder.one) == ["a", "b", "bad-c"]
    assert (group.batches, group.batched_items) == (0, 0)


def test_an_exception_of_a_lone_write_is_raised_and_the_turn_handed_on():
    recorder = Recorder()
    recorder.release.set()
    group = GroupCommit(recorder.write_one, recorder.write_many)
    with pytest.raises(ValueError, match="bad"):
        group.submit("bad")
    assert group.submit("good") == "one:good"


def test_work_a_batch_leaves_for_after_it_is_done_once_its_threads_have_their_answers():
    """`holding`: what the write leaves in the list (core/db.py after_write_held: the delivery
    job to queue) is done by the leader after the batch's other threads are answered, and
    once; its failure is logged, the answers stand."""
    answered = {item: threading.Event() for item in "abcd"}
    batch_items: list[str] = []
    seen_answered: list[bool] = []
    holds: list[list] = []

    @contextmanager
    def holding():
        held: list = []
        holds.append(held)
        yield held

    def others_answered() -> None:
        others = [i for i in batch_items if f"t-{i}" != threading.current_thread().name]
        seen_answered.append(all(answered[i].wait(2) for i in others))

    def failing() -> None:
        raise RuntimeError("queueing failed")

    def write_many(items):
        batch_items.extend(items)
        holds[-1].extend([others_answered, failing])
        return [f"many:{item}" for item in items]

    recorder = Recorder(many_result=write_many)
    group = GroupCommit(recorder.write_one, recorder.write_many, holding=holding)
    results = run_together(group, recorder, "a", ["b", "c", "d"], answered)
    assert results == {"a": "one:a", "b": "many:b", "c": "many:c", "d": "many:d"}
    assert seen_answered == [True]
