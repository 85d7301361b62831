"""The work of one shard, run on a cluster node: `zcnas score ... --shard K/N` into a node-local store.

Kept free of Ray so that it can be read and tested alone; `cli.py` wraps `score_shard` in a Ray task.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

# zcnas prints "scored X architecture(s), Y already stored; ..." when a run ends.
_SUMMARY = re.compile(r"scored (\d+) \S+, (\d+) already stored")


class ShardFailed(Exception):
    """zcnas refused or failed on its own (bad option, missing data, ...): not retried."""


class ShardInterrupted(Exception):
    """zcnas was killed by a signal (out of memory, a node going away, an operator): Ray retries it."""


def resolve_binary(zcnas: str) -> str:
    """The zcnas executable on this node: a path as given, or a name looked up on PATH.

    Raises ShardFailed naming the path and the node when there is none.
    """
    if os.sep in zcnas:
        if os.path.isfile(zcnas) and os.access(zcnas, os.X_OK):
            return zcnas
        raise ShardFailed(f"--zcnas {zcnas}: no executable file there on node {socket.gethostname()} "
                          "(build it on every node: swift build -c release)")
    found = shutil.which(zcnas)
    if found is None:
        raise ShardFailed(f"--zcnas {zcnas}: not found on PATH on node {socket.gethostname()} "
                          "(pass --zcnas /path/to/.build/release/zcnas)")
    return found


def shard_store_path(workdir: str, fingerprint: str, k: int, n: int) -> str:
    """Where shard K of N of a run lives on a node: WORKDIR/FINGERPRINT/shard-K-of-N.sqlite."""
    return os.path.join(workdir, fingerprint, f"shard-{k}-of-{n}.sqlite")


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the task's worker dies (Linux), so a retry never
    races an orphaned zcnas on the same shard store."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except Exception:
            pass


def snapshot(path: str) -> bytes:
    """The bytes of a consistent copy of the SQLite store at `path` (SQLite's online backup)."""
    fd, tmp = tempfile.mkstemp(suffix=".sqlite", dir=os.path.dirname(path))
    os.close(fd)
    try:
        src = sqlite3.connect(path)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        with open(tmp, "rb") as f:
            return f.read()
    finally:
        os.unlink(tmp)


def score_shard(zcnas: str, score_args: list[str], k: int, n: int, workdir: str, fingerprint: str,
                jobs: int | None) -> dict:
    """Scores shard `k` of `n` with `zcnas score SCORE_ARGS --shard k/n --store <node-local store>`.

    The store is WORKDIR/FINGERPRINT/shard-K-of-N.sqlite on this node, so a retry on the same node
    resumes it (zcnas skips stored architectures). Returns {"shard", "store_bytes", "node", "scored",
    "already_stored", "seconds", "stdout"}. Raises ShardFailed (zcnas exited non-zero: its stderr) or
    ShardInterrupted (zcnas died from a signal).
    """
    start = time.monotonic()
    exe = resolve_binary(zcnas)
    path = shard_store_path(workdir, fingerprint, k, n)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    cmd = [exe, "score", *score_args, "--shard", f"{k}/{n}", "--store", path]
    if jobs is not None:
        cmd += ["--jobs", str(jobs)]
    # One attempt at a time per shard store on a node (a stale attempt would hold the lock).
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # zcnas holds the lock too (pass_fds), so it is free only once both are gone.
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, preexec_fn=_die_with_parent, pass_fds=(lock.fileno(),))
        if proc.returncode < 0:
            raise ShardInterrupted(f"shard {k}/{n}: zcnas was killed by signal {-proc.returncode} on node "
                                   f"{socket.gethostname()}")
        if proc.returncode != 0:
            err = proc.stderr.strip().splitlines()
            tail = "\n".join(err[-5:]) if err else f"(no output; exit status {proc.returncode})"
            raise ShardFailed(f"shard {k}/{n}: zcnas score failed with exit status {proc.returncode} on node "
                              f"{socket.gethostname()}: {tail}")
        data = snapshot(path)
    m = _SUMMARY.search(proc.stdout)
    return {
        "shard": k,
        "store_bytes": data,
        "node": socket.gethostname(),
        "scored": int(m.group(1)) if m else None,
        "already_stored": int(m.group(2)) if m else None,
        "seconds": time.monotonic() - start,
        "stdout": proc.stdout[-2000:],
    }
