"""ReadGate: at most N SQLite reads at a time in one process, served in arrival order.

Why (docs/benchmarks.md, fifth session): Python's sqlite3 module lets go of the GIL around
every sqlite3_step, one per row. With many threads reading at once each of those hand-overs
wakes another thread, so the process spends its CPU switching threads: 16 threads searching
a patient's Conditions on 2 cores did 2,400-2,600 searches/s at 0.52-0.70 ms of CPU each,
one thread alone 4,700-4,900/s at 0.21 ms (perf: ~45 % of the CPU in futex waits and
wake-ups under take_gil/drop_gil). Two or three reads at a time keep both cores busy (the
steps run without the GIL) without the storm; the rest wait their turn, once each, first
come first served, so no read waits behind a stream of later ones.

A waiting read is one blocked lock acquire: no polling. The gate is for speed, never for
correctness: a read that waited `OVERFLOW_SECONDS` goes ahead beyond the limit, so a thread
that holds a slot while waiting for another thread's read (the audit trail reading its
chain head back while requests wait for their audit record) cannot deadlock the process.
Reads made `ungated()` skip the line: those of a thread holding a lock that the event
loop may wait for (access/care.py builds shared access facts under one), so the loop never
waits behind the gate through such a lock.
"""

from __future__ import annotations

import threading
from collections import deque
from contextlib import contextmanager
from typing import Iterator

OVERFLOW_SECONDS = 1.0

_local = threading.local()


@contextmanager
def ungated() -> Iterator[None]:
    """This thread's reads inside the block do not wait at any gate."""
    before = getattr(_local, "ungated", False)
    _local.ungated = True
    try:
        yield
    finally:
        _local.ungated = before


def is_ungated() -> bool:
    return getattr(_local, "ungated", False)


class ReadGate:
    def __init__(self, slots: int):
        self.slots = max(1, slots)
        self._free = self.slots
        self._lock = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self.overflows = 0  # reads that went ahead without a slot (for tests and metrics)

    def enter(self) -> bool:
        """Take a slot, waiting in line for one; False when the wait ran out and the read
        goes ahead without one (then it must not leave())."""
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return True
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        try:
            if turn.acquire(timeout=OVERFLOW_SECONDS):
                return True  # leave() handed its slot over to us
        except BaseException:  # KeyboardInterrupt in the wait: out of the line, no slot lost
            if self._out_of_line(turn, overflow=False):
                self.leave()  # leave() handed us its slot meanwhile: pass it on
            raise
        # leave() may have handed us the slot between the timeout and the lock: keep it.
        return self._out_of_line(turn, overflow=True)

    def _out_of_line(self, turn: threading.Lock, overflow: bool) -> bool:
        """Take `turn` out of the line; True if leave() had handed it a slot already (it
        was no longer in the line), else False, counted as an overflow if `overflow`."""
        with self._lock:
            try:
                self._waiters.remove(turn)
            except ValueError:
                return True
            self.overflows += overflow
            return False

    def leave(self) -> None:
        """Give the slot back: to the first waiting read if there is one."""
        with self._lock:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._free += 1
