"""Group commit: the writes that threads of one process hand in at the same moment, in one
transaction.

Under a burst of sign-ons most of a submission's write is the same fixed cost for one row as for
ten: a transaction, a round trip per statement, SQLAlchemy's work per statement, and on SQLite
the turn of its one writer. Here one thread at a time writes (the leader); what the others hand
in meanwhile waits, and the next leader writes it all together. Nothing waits on purpose: alone,
a write goes at once, and batches form only where writes queue anyway.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class Alone:
    """A result of `write_many`: this item is to be written on its own (`write_one`), by its
    own thread once the batch is done (an address met twice, a case the batch does not cover)."""

    def __repr__(self) -> str:
        return "ALONE"


ALONE = Alone()


@dataclass(eq=False)
class _Slot(Generic[T, R]):
    item: T
    result: R | Alone | None = None
    error: BaseException | None = None
    lead: bool = False  # this thread writes the next batch
    done: bool = False
    ready: threading.Event = field(default_factory=threading.Event)


class GroupCommit(Generic[T, R]):
    """Writes items one batch at a time, the items waiting at that moment in each batch.

    `write_one(item)` writes one item in a transaction of its own; `write_many(items)` writes
    several in one and returns, in their order, each one's result, an exception for its thread
    to raise, or ALONE. If `write_many` raises, it wrote nothing (its transaction rolled back)
    and every item of the batch is written alone. A batch of one item is `write_one`'s, in the
    thread that handed it in.

    `holding()`, if given, is entered around `write_many` and yields a list in which the write
    leaves work for after it (core/db.py `after_write_held`: a job to queue): the leader does
    it once the batch's threads have their answers and the next leader has its turn, so that
    neither waits on it.
    """

    def __init__(
        self,
        write_one: Callable[[T], R],
        write_many: Callable[[Sequence[T]], Sequence[R | BaseException | Alone]],
        max_size: int = 32,
        holding: Callable[[], AbstractContextManager[list[Callable[[], None]]]] | None = None,
    ) -> None:
        self.write_one = write_one
        self.write_many = write_many
        self.max_size = max_size
        self.holding = holding
        self._lock = threading.Lock()
        self._queue: list[_Slot[T, R]] = []
        self._leading = False  # a thread is writing a batch
        #: Batches written by `write_many`, and the items in them (the benchmark reports them).
        self.batches = 0
        self.batched_items = 0

    def submit(self, item: T) -> R:
        """Write `item` (now, or with the items handed in meanwhile) and return its result."""
        slot: _Slot[T, R] = _Slot(item)
        with self._lock:
            self._queue.append(slot)
            if not self._leading:
                self._leading = slot.lead = True
        while not slot.done:
            if slot.lead:
                self._write_batch()
            else:
                slot.ready.wait()
        if slot.error is not None:
            raise slot.error
        if isinstance(slot.result, Alone):
            return self.write_one(item)
        return cast(R, slot.result)

    def _write_batch(self) -> None:
        """The leader's turn: the queue's first items (its own first), then the lead to the
        next waiting item, whatever happened."""
        with self._lock:
            batch = self._queue[: self.max_size]
            del self._queue[: self.max_size]
        held: list[Callable[[], None]] = []
        try:
            if len(batch) == 1:
                try:
                    batch[0].result = self.write_one(batch[0].item)
                except BaseException as exc:  # noqa: BLE001 - raised in its thread, below
                    batch[0].error = exc
            else:
                with self.holding() if self.holding else nullcontext(held) as held:
                    self._write_many(batch)
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].lead = True
                    self._queue[0].ready.set()
                else:
                    self._leading = False
            for slot in batch:
                slot.done = True
                slot.lead = False
                slot.ready.set()
        for work in held:
            try:
                work()
            except Exception:  # noqa: BLE001 - the batch is written; its answers are given
                log.exception("work after a batch's write failed")

    def _write_many(self, batch: list[_Slot[T, R]]) -> None:
        try:
            results = self.write_many([slot.item for slot in batch])
        except Exception:  # noqa: BLE001 - nothing was written: each item alone says why
            results = [ALONE] * len(batch)
        else:
            self.batches += 1
            self.batched_items += len(batch)
        for slot, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                slot.error = result
            else:
                slot.result = result
