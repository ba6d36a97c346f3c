"""One writer per run and method: an advisory ``fcntl.flock`` on ``visualize/<METHOD>.lock``.

``ttvis visualize``, ``eval``, ``render``, ``compare`` and the server's training jobs all take
the lock before they write ``visualize/<METHOD>/``; a second writer gets :class:`LockedError`
saying who holds it (pid, command, start time). The kernel drops a ``flock`` when its
holder dies (even by ``kill -9``), so a stale lock file never blocks anyone: the file
itself is only a note of the last holder. Two ``open()`` calls in one process get two
open file descriptions, so a server thread is refused like another process would be.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any, Iterator


class LockedError(RuntimeError):
    """Another writer holds the run's lock for that method.

    Attributes:
        path: the lock file; holder: what the holder wrote into it (pid, command, started).
    """

    def __init__(self, path: Path, holder: dict[str, Any]):
        self.path, self.holder = path, holder
        who = f"pid {holder.get('pid', '?')}"
        if holder.get("command"):
            who += f" ({holder['command']})"
        if holder.get("started"):
            who += f", started {holder['started']}"
        super().__init__(f"{path.parent.parent}: {path.stem} results are being written by {who}; "
                         f"wait for it to finish or stop it, then try again")


def lock_path(run_path: str | os.PathLike, method: str) -> Path:
    """``<run>/visualize/<METHOD>.lock``."""
    return Path(run_path) / "visualize" / f"{method}.lock"


def holder(run_path: str | os.PathLike, method: str) -> dict[str, Any] | None:
    """Who holds the lock now (``{"pid", "command", "started", "host"}``), or None when free.

    Probes with a non-blocking shared lock, so it never disturbs the holder.
    """
    path = lock_path(run_path, method)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_note(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_note(fd: int) -> dict[str, Any]:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return dict(json.loads(os.read(fd, 4096).decode("utf-8") or "{}"))
    except (OSError, ValueError, TypeError):
        return {}


@contextlib.contextmanager
def method_lock(run_path: str | os.PathLike, method: str, command: str | None = None) -> Iterator[Path]:
    """Hold the exclusive lock of ``run_path``'s ``method`` results for the ``with`` body.

    Args:
        run_path: the run folder (``visualize/`` is created if missing).
        method: the method's name.
        command: a few words saying what holds it (shown to a refused writer); default
            the process's command line.

    Raises:
        LockedError: another process or thread holds it (message names the holder).
        OSError: the folder cannot be written.
    """
    path = lock_path(run_path, method)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            note = _read_note(fd)
            os.close(fd)
            raise LockedError(path, note) from None
        # the previous holder may have unlinked the file between our open() and flock():
        # then we locked an orphan inode; start again on the file now at ``path``
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    note = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "command": command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200]}
    os.ftruncate(fd, 0)
    os.write(fd, json.dumps(note).encode("utf-8"))
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # unlink while still holding it: the next writer then creates a fresh file
        os.close(fd)
