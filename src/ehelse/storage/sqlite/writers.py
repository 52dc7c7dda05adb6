"""The queue of a database file's writing processes (flock(2) on `<file>-writers`), waited
in for at most a time.

SqliteRepository._begin takes the lock before `BEGIN IMMEDIATE` so the kernel wakes the
next writer the moment one lets go (SQLite's own lock can only be retried; repository.py
_writers_lock says why that mattered). flock has no timeout, though: a writer that never
lets go (a process stopped or hung inside its transaction) kept every other writer waiting
for good, and a read whose audit record waited with them never answered. So a writer that
finds the lock taken waits for it here, for at most the busy timeout, then gets SQLite's
"database is locked", which the web layer answers with a 503 (storage/unavailable.py).

The wait itself stays a blocking flock (the kernel's wake-up, no polling), made by one
waiter thread per file on a descriptor of its own: flock belongs to the open file
description, so a wait given up can end later on its own descriptor, which is then let
go and closed, without touching the lock a later writer of this process holds on another.
Waits given up and new ones are served in order: while a lock is held for good, every
wait behind it times out, as it should.
"""

from __future__ import annotations

import fcntl
import os
import queue
import sqlite3
import threading

IDLE_SECONDS = 10.0  # a waiter thread with nothing to wait for ends (started again when needed)


class _Wait:
    __slots__ = ("fd", "done", "abandoned", "error", "lock")

    def __init__(self, fd: int):
        self.fd = fd
        self.done = threading.Event()
        self.abandoned = False
        self.error: OSError | None = None
        self.lock = threading.Lock()


class WritersQueue:
    """One per repository and process (a forked child makes its own)."""

    def __init__(self, path: str):
        self.path = path
        self.pid = os.getpid()
        self._waits: "queue.SimpleQueue[_Wait]" = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running = False

    def lock(self, fd: int, timeout: float) -> int:
        """Take the lock: on `fd` (the process's descriptor) when it is free, else on a new
        descriptor once the writers before have let go. Returns the descriptor that holds it
        (the caller unlocks it, and closes it when it is not `fd`); raises SQLite's "database
        is locked" after `timeout` seconds."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            pass
        own = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        wait = _Wait(own)
        try:
            self._submit(wait)
        except BaseException:
            os.close(own)
            raise
        if not wait.done.wait(timeout):
            with wait.lock:
                if not wait.done.is_set():  # the waiter will let go of it and close it
                    wait.abandoned = True
                    raise sqlite3.OperationalError(
                        f"database is locked (another writer of the file held it for {timeout:g} s)")
        if wait.error is not None:
            os.close(own)
            raise wait.error
        return own

    def _submit(self, wait: _Wait) -> None:
        with self._lock:
            self._waits.put(wait)
            if not self._running:
                threading.Thread(target=self._serve, name="sqlite-writers", daemon=True).start()
                self._running = True

    def _serve(self) -> None:
        while True:
            try:
                wait = self._waits.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._waits.empty():
                        self._running = False
                        return
                continue
            try:
                fcntl.flock(wait.fd, fcntl.LOCK_EX)
            except OSError as exc:
                wait.error = exc
            with wait.lock:
                if not wait.abandoned:
                    wait.done.set()
                    continue
            if wait.error is None:
                fcntl.flock(wait.fd, fcntl.LOCK_UN)
            os.close(wait.fd)
