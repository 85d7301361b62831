"""zcnas-ray on a real Ray cluster (scripts/test.sh starts a head and a worker node, one CPU each).

Needs $ZCNAS (a zcnas binary) and $RAY_ADDRESS (the head, HOST:PORT); skipped without them.
The expected values are a single-process `zcnas score` run of the same selection: the driver's
merged store must hold the same rows, bit for bit (value as IEEE-754 bytes, missing reason, engine version,
architecture), every key once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import time

import pytest

ZCNAS = os.environ.get("ZCNAS")
ADDRESS = os.environ.get("RAY_ADDRESS")
pytestmark = pytest.mark.skipif(not (ZCNAS and ADDRESS), reason="needs $ZCNAS and $RAY_ADDRESS (run bash scripts/test.sh)")

# 24 NAS-Bench-201 architectures, cheap proxies, a small batch.
SCORE = ["--archs", "sample:24:7", "--metrics", "nwot,synflow,params,flops", "--batch-size", "16", "--seed", "0"]
KEY = ["space", "dataset", "arch_index", "metric", "seed", "batch_size", "init", "batch", "dtype"]


def driver(*args: str) -> list[str]:
    """The installed console command (scripts/test.sh installs ./python), else the module."""
    exe = shutil.which("zcnas-ray")
    cmd = [exe] if exe else [sys.executable, "-m", "zcnas_ray"]
    return [*cmd, "score", "--address", ADDRESS, "--zcnas", ZCNAS, *args]


def rows(path: str) -> dict:
    """key -> (value as its 8 IEEE-754 bytes or None, missing reason, arch, engine version); asserts no
    key twice. Only `seconds` and `created_at` may differ between runs."""
    con = sqlite3.connect(path)
    try:
        got = con.execute(f"SELECT {','.join(KEY)}, typeof(value), value, missing_reason, arch, engine_version FROM scores").fetchall()
    finally:
        con.close()
    out = {}
    for r in got:
        key, (kind, value, reason, arch, version) = r[:len(KEY)], r[len(KEY):]
        assert key not in out, f"{path}: key {key} twice"
        assert kind in ("real", "null"), f"{path}: {key}: value stored as {kind}"
        out[key] = (struct.pack("<d", value) if value is not None else None, reason, arch, version)
    return out


@pytest.fixture(scope="module", autouse=True)
def two_nodes():
    """The cluster has its two one-CPU nodes (the worker may register a moment after `ray start`)."""
    import logging
    import ray
    ray.init(address=ADDRESS, logging_level=logging.WARNING, log_to_driver=False)
    try:
        deadline = time.monotonic() + 60
        while True:
            alive = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= 1]
            if len(alive) >= 2:
                break
            assert time.monotonic() < deadline, f"the Ray cluster at {ADDRESS} has {len(alive)} node(s) with a CPU, expected 2"
            time.sleep(0.5)
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The reference: one zcnas process (--jobs 2) scoring the whole selection."""
    d = tmp_path_factory.mktemp("single")
    store = str(d / "single.sqlite")
    t = time.monotonic()
    r = subprocess.run([ZCNAS, "score", *SCORE, "--jobs", "2", "--store", store], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    print(f"single zcnas score --jobs 2: {time.monotonic() - t:.1f} s wall")
    got = rows(store)
    assert len({k[2] for k in got}) == 24 and len(got) == 24 * 4
    return got


def test_six_shards_merge_into_the_single_run(single, tmp_path):
    store = str(tmp_path / "ray.sqlite")
    t = time.monotonic()
    r = subprocess.run(driver("--shards", "6", "--store", store, "--workdir", str(tmp_path / "work"), "--", *SCORE),
                       capture_output=True, text=True)
    wall = time.monotonic() - t
    assert r.returncode == 0, r.stderr
    print(f"zcnas-ray 6 shards: {wall:.1f} s wall; {r.stdout.strip()}")
    assert "96 rows added, 0 already present" in r.stdout
    assert "tasks ran on 2 node(s)" in r.stdout, "both nodes of the cluster took shards"
    assert rows(store) == single
    manifest = json.load(open(store + ".zcnas-ray.json"))
    (run,) = manifest["runs"].values()
    assert run["merged"] == [0, 1, 2, 3, 4, 5] and run["shards"] == 6 and run["score_args"] == SCORE
    # A rerun skips every shard and changes nothing.
    again = subprocess.run(driver("--shards", "6", "--store", store, "--workdir", str(tmp_path / "work"), "--", *SCORE),
                           capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "all 6 shards of this run are already merged" in again.stdout
    assert rows(store) == single
    # With shards 3-5 not recorded (as after an interrupted run), a rerun scores only those three.
    path = store + ".zcnas-ray.json"
    manifest["runs"][next(iter(manifest["runs"]))]["merged"] = [0, 1, 2]
    json.dump(manifest, open(path, "w"))
    part = subprocess.run(driver("--shards", "6", "--store", store, "--workdir", str(tmp_path / "work2"), "--", *SCORE),
                          capture_output=True, text=True)
    assert part.returncode == 0, part.stderr
    assert "resuming: 3 of 6 shards already merged" in part.stderr and "merged 3 shard(s)" in part.stdout, part.stdout
    assert " 0 rows added" in part.stdout
    assert json.load(open(path))["runs"][next(iter(manifest["runs"]))]["merged"] == [0, 1, 2, 3, 4, 5]
    assert rows(store) == single


def test_errors_are_one_line_and_exit_non_zero(tmp_path):
    store = str(tmp_path / "bad.sqlite")
    # A bad zcnas option: the first shard's zcnas error surfaces, the others are cancelled.
    r = subprocess.run(driver("--shards", "6", "--store", store, "--workdir", str(tmp_path / "w"), "--",
                              "--archs", "sample:24:7", "--metrics", "bogus"), capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "zcnas score failed with exit status" in r.stderr and "unknown proxy 'bogus'" in r.stderr, r.stderr
    assert "0 of 6 shards are merged" in r.stderr
    # No zcnas binary.
    r = subprocess.run([sys.executable, "-m", "zcnas_ray", "score", "--address", ADDRESS, "--zcnas", str(tmp_path / "nope"),
                        "--shards", "2", "--store", store, "--", "--archs", "1"], capture_output=True, text=True)
    assert r.returncode == 1 and f"--zcnas {tmp_path / 'nope'}: no zcnas executable" in r.stderr, r.stderr
    # No Ray head at the address.
    r = subprocess.run([sys.executable, "-m", "zcnas_ray", "score", "--address", "127.0.0.1:1", "--zcnas", ZCNAS,
                        "--shards", "2", "--store", store, "--", "--archs", "1"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "--address 127.0.0.1:1: cannot reach a Ray head" in r.stderr, r.stderr
    # An unreadable manifest, a store in a missing folder.
    with open(str(tmp_path / "m.sqlite.zcnas-ray.json"), "w") as f:
        f.write("{not json")
    r = subprocess.run(driver("--shards", "2", "--store", str(tmp_path / "m.sqlite"), "--", "--archs", "1"),
                       capture_output=True, text=True)
    assert r.returncode == 1 and "cannot read the manifest" in r.stderr, r.stderr
    r = subprocess.run(driver("--shards", "2", "--store", str(tmp_path / "no" / "x.sqlite"), "--", "--archs", "1"),
                       capture_output=True, text=True)
    assert r.returncode == 1 and "no such folder" in r.stderr, r.stderr
    # Options the driver sets itself.
    r = subprocess.run(driver("--shards", "2", "--store", store, "--", "--archs", "1", "--shard", "0/2"), capture_output=True, text=True)
    assert r.returncode == 2 and "--shard after --: the driver assigns the shards" in r.stderr, r.stderr
    # More CPUs per task than any node has.
    r = subprocess.run(driver("--shards", "2", "--num-cpus", "4", "--store", store, "--", "--archs", "1"), capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "--num-cpus 4.0: no node of the cluster" in r.stderr, r.stderr


def _shard_processes(workdir: str) -> dict[int, int]:
    """Running zcnas processes of this run's shards: pid -> parent pid (the Ray worker)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            with open(f"/proc/{pid}/status") as f:
                ppid = next(int(line.split()[1]) for line in f if line.startswith("PPid:"))
        except (OSError, StopIteration):
            continue
        if b"score" in argv and b"--shard" in argv and any(a.startswith(workdir.encode()) for a in argv):
            out[int(pid)] = ppid
    return out


def _stored_archs(store: str) -> int:
    try:
        con = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=0.05)
        try:
            return con.execute("SELECT COUNT(DISTINCT arch_index) FROM scores").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_killed_zcnas_and_killed_worker_are_retried_and_resume(single, tmp_path):
    """Two shards of 12 architectures: once each shard store holds a scored architecture, SIGKILL the
    zcnas process of one shard (retried as ShardInterrupted) and the Ray worker running the other (a
    worker death, retried by Ray; its zcnas dies with it). Both retries resume their shard store."""
    store = str(tmp_path / "ray.sqlite")
    workdir = str(tmp_path / "work")
    proc = subprocess.Popen(driver("--shards", "2", "--store", store, "--workdir", workdir, "--", *SCORE),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = {}  # shard store -> what was killed
    deadline = time.monotonic() + 120
    try:
        while len(killed) < 2 and proc.poll() is None and time.monotonic() < deadline:
            for pid, ppid in _shard_processes(workdir).items():
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        argv = [a.decode() for a in f.read().split(b"\0")]
                except OSError:
                    continue
                if "--store" not in argv:  # caught mid-exec (zcnas re-executes itself once)
                    continue
                shard_store = argv[argv.index("--store") + 1]
                if shard_store in killed or _stored_archs(shard_store) < 1:
                    continue
                what = "zcnas" if not killed else "worker"
                try:
                    os.kill(pid if what == "zcnas" else ppid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                killed[shard_store] = what
            time.sleep(0.02)
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert sorted(killed.values()) == ["worker", "zcnas"], f"killed {killed}; driver: {err[-2000:]}"
    assert proc.returncode == 0, err
    print(f"kill test: killed {killed}; {out.strip()}")
    got = rows(store)
    assert got == single, f"{len(set(single) - set(got))} rows lost, {len(set(got) - set(single))} unexpected"
    # Both retries resumed their node-local store: what was scored before the kill was not scored again.
    assert "shards 0,1 resumed" in out, out + err
