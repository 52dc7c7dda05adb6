"""storage/sqlite/gate.py: SQLite reads at most N at a time per process, first come first
served; the event loop's reads never wait; a read inside a read reuses its connection; a
wait that runs out goes ahead instead of deadlocking."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from ehelse.storage.sqlite import SqliteRepository
from ehelse.storage.sqlite import gate as gate_module
from ehelse.storage.sqlite.gate import ReadGate
from testsupport import errors_in_threads


@pytest.fixture(autouse=True)
def _patient_gate(monkeypatch):
    """A loaded CI machine must not turn a slow hand-over into an overflow: the tests that
    want one set their own."""
    monkeypatch.setattr(gate_module, "OVERFLOW_SECONDS", 30.0)


def _wait_for(condition, seconds: float = 5.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.001)


def test_waiting_reads_go_in_arrival_order():
    gate = ReadGate(1)
    assert gate.enter()
    entered: list[int] = []

    def read(n: int) -> None:
        if gate.enter():
            entered.append(n)
            gate.leave()

    threads = []
    for n in range(5):
        t = threading.Thread(target=read, args=(n,))
        t.start()
        threads.append(t)
        _wait_for(lambda: len(gate._waiters) == n + 1)  # each is in line before the next comes
    gate.leave()
    for t in threads:
        t.join()
    assert entered == [0, 1, 2, 3, 4]
    assert gate._free == 1 and gate.overflows == 0


def test_no_more_than_the_slots_at_once():
    gate = ReadGate(2)
    inside, most, lock = [0], [0], threading.Lock()

    def reads() -> None:
        for _ in range(200):
            assert gate.enter()
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0)
            with lock:
                inside[0] -= 1
            gate.leave()

    assert errors_in_threads(reads, 8) == [] and gate.overflows == 0
    assert most[0] == 2 and gate._free == 2


def test_a_wait_that_runs_out_goes_ahead_without_a_slot(monkeypatch):
    monkeypatch.setattr(gate_module, "OVERFLOW_SECONDS", 0.05)
    gate = ReadGate(1)
    assert gate.enter()
    started = time.monotonic()
    assert gate.enter() is False  # it went ahead, and must not give back a slot it lacks
    assert 0.04 < time.monotonic() - started < 2
    assert gate.overflows == 1 and not gate._waiters
    gate.leave()
    assert gate._free == 1


def test_a_read_inside_a_read_uses_the_same_connection(sqlite_url):
    repo = SqliteRepository(sqlite_url, sqlite_readers=1)
    repo.create({"resourceType": "Patient"}, id="p")
    with repo._read_conn() as outer:
        outer.execute("BEGIN")  # a read transaction of the outer read's own
        with repo._read_conn() as inner:  # with one slot, taking another would wait
            assert inner is outer
        assert repo.read("Patient", "p") is not None
        assert outer.in_transaction  # the inner reads' ends left the outer's transaction alone
    assert not outer.in_transaction  # the outer end rolled it back
    assert repo._gate._free == 1 and repo._gate.overflows == 0
    repo.close()


def test_the_event_loop_reads_while_worker_threads_hold_every_slot(sqlite_url):
    repo = SqliteRepository(sqlite_url, sqlite_readers=1)
    repo.create({"resourceType": "Patient"}, id="p")
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with repo._read_conn():
            holding.set()
            release.wait(10)

    worker = threading.Thread(target=hold)
    worker.start()
    assert holding.wait(5)

    async def read_on_the_loop() -> float:
        started = time.monotonic()
        assert repo.read("Patient", "p") is not None
        return time.monotonic() - started

    try:
        assert asyncio.run(read_on_the_loop()) < gate_module.OVERFLOW_SECONDS / 2
        assert repo._gate.overflows == 0
    finally:
        release.set()
        worker.join()
    repo.close()


def test_a_read_from_a_thread_waits_for_a_slot(sqlite_url):
    repo = SqliteRepository(sqlite_url, sqlite_readers=1)
    repo.create({"resourceType": "Patient"}, id="p")
    done = threading.Event()

    def read() -> None:
        assert repo.read("Patient", "p") is not None
        done.set()

    with repo._read_conn():
        t = threading.Thread(target=read)
        t.start()
        _wait_for(lambda: len(repo._gate._waiters) == 1)
        assert not done.is_set()
    t.join(5)
    assert done.is_set()
    repo.close()


@pytest.mark.parametrize("slots", [0, -3])
def test_a_gate_has_at_least_one_slot(slots):
    assert ReadGate(slots).slots == 1


def test_an_interrupted_wait_loses_no_slot(monkeypatch):
    gate = ReadGate(1)
    assert gate.enter()

    class Interrupted(BaseException):
        pass

    real_lock = threading.Lock

    class InterruptedTurn:  # the waiting read's own lock: its wait is interrupted
        def __init__(self):
            self.lock = real_lock()

        def acquire(self, *args, **kwargs):
            if args or kwargs:
                raise Interrupted()
            return self.lock.acquire()

        def release(self):
            self.lock.release()

    monkeypatch.setattr(gate_module.threading, "Lock", InterruptedTurn)
    with pytest.raises(Interrupted):
        gate.enter()
    monkeypatch.setattr(gate_module.threading, "Lock", real_lock)
    assert not gate._waiters
    gate.leave()
    assert gate._free == 1 and gate.enter() and gate.overflows == 0


def test_reads_made_ungated_do_not_queue(sqlite_url):
    repo = SqliteRepository(sqlite_url, sqlite_readers=1)
    repo.create({"resourceType": "Patient"}, id="p")
    got: list = []
    with repo._read_conn():  # every slot taken
        def read() -> None:
            with gate_module.ungated():
                got.append(repo.read("Patient", "p"))

        t = threading.Thread(target=read)
        t.start()
        t.join(5)
        assert got and got[0] is not None and not repo._gate._waiters
    assert repo._gate.overflows == 0
    repo.close()


def test_a_reader_whose_rollback_fails_is_closed_not_pooled(sqlite_url):
    repo = SqliteRepository(sqlite_url, sqlite_readers=2)
    repo.create({"resourceType": "Patient"}, id="p")
    with pytest.raises(ValueError):
        with repo._read_conn() as conn:
            conn.execute("BEGIN")
            conn.execute("SELECT * FROM resource").fetchall()
            conn.set_progress_handler(lambda: 1, 1)  # every statement from here is interrupted
            raise ValueError("the read failed half-way")
    assert conn not in repo._idle_readers and conn not in repo._all_readers
    repo.update({"resourceType": "Patient", "id": "p", "active": True})
    assert repo.read("Patient", "p").version_id == 2  # no reader left on the old snapshot
    repo.close()


def test_a_read_ended_on_another_thread_leaves_no_mark_on_either(sqlite_url):
    """A generator suspended inside a read and closed on another thread: the reading
    thread's later reads take a connection through the gate again, and the closing thread's
    own read is not disturbed."""
    repo = SqliteRepository(sqlite_url, sqlite_readers=2)
    repo.create({"resourceType": "Patient"}, id="p")

    def suspended():
        with repo._read_conn() as conn:
            yield conn

    reading = suspended()
    first = next(reading)
    assert repo._held[threading.get_ident()] is first
    closer = threading.Thread(target=reading.close)
    closer.start()
    closer.join(5)
    assert threading.get_ident() not in repo._held
    with repo._read_conn() as again:
        assert repo._gate._free == 1  # a slot of its own, not a reuse of the old one
        assert again.execute("SELECT 1").fetchone() == (1,)
    assert repo._gate._free == 2
    repo.close()
