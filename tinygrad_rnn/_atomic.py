"""Temporary files for atomic saves, and the removal of those a killed save left behind.

A temporary is named ``.tinygrad_rnn-save-<host>-<pid>-<random>-<name>.tmp``: ``<host>`` hashes the host
name and PID namespace, so a PID in the name can be tested exactly. A temporary is stale, and removed
by the next save into its folder, when its host tag is ours and its PID no longer runs (POSIX), or
otherwise (another host, or Windows) when it has not been written for ``STALE_AGE_S``. A live writer's
temporary is never touched; nothing not matching ``TEMP_NAME`` (a regular file) is ever removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import socket
import stat
import time

STALE_AGE_S = 3600.0
TEMP_NAME = re.compile(r"\.tinygrad_rnn-save-([0-9a-f]{8})-([0-9]{1,10})-[0-9a-f]{8}-[A-Za-z0-9._-]{0,60}\.tmp")


def host_tag() -> str:
    # PIDs are only comparable within one host and PID namespace (containers sharing a folder differ).
    try:
        ns = os.readlink("/proc/self/ns/pid")
    except OSError:
        ns = ""
    return hashlib.sha256(f"{socket.gethostname()}|{ns}".encode()).hexdigest()[:8]


def create_temp(folder: str, name: str, mode: int) -> tuple[int, str]:
    # Not tempfile.mkstemp: it always creates 0600. A new checkpoint is created with 0666 so the kernel
    # applies the umask (and any default ACL) exactly as open() would; reading the umask ourselves is
    # either racy (os.umask sets it process-wide) or Linux-only (/proc/self/status). When replacing a
    # file, the temporary starts private (0600) and gets that file's mode once written.
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:60]
    prefix = f".tinygrad_rnn-save-{host_tag()}-{os.getpid()}-"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(folder, f"{prefix}{secrets.token_hex(4)}-{safe}.tmp")
        try:
            return os.open(tmp, flags, mode), tmp
        except FileExistsError:
            continue


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0 only tests existence (POSIX only: on Windows os.kill terminates)
    except (ProcessLookupError, OverflowError):  # OverflowError: a number no PID can be
        return False
    except OSError:
        return True  # e.g. EPERM: it exists, owned by someone else
    return True


def remove_stale_temps(folder: str) -> None:
    """Remove temporaries of our own naming whose writer is gone (see the module docstring)."""
    mine, now = host_tag(), time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return  # the save itself will report an unusable folder
    for entry in entries:
        m = TEMP_NAME.fullmatch(entry.name)
        if m is None:
            continue
        with contextlib.suppress(OSError):  # vanished (another saver cleaned it) or not ours to remove
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode):
                continue
            if m.group(1) == mine and os.name == "posix":
                stale = not _pid_running(int(m.group(2)))
            else:  # another host's PID (or no way to test one, on Windows: os.kill would terminate it)
                stale = now - st.st_mtime > STALE_AGE_S
            if stale:
                os.unlink(entry.path)


def fsync_folder(folder: str) -> None:
    # Makes the rename itself durable; POSIX only (a folder cannot be opened like this on Windows).
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
