"""`zcnas-ray score`: score a zcnas selection on a Ray cluster, one task per shard, merged into one store.

    zcnas-ray score --address auto --shards 64 --store out.sqlite [--zcnas PATH] [--num-cpus C]
                    [--max-retries R] [--workdir DIR] -- <zcnas score options>

Each task runs `zcnas score OPTIONS --shard K/N --store WORKDIR/FP/shard-K-of-N.sqlite` on its node
(FP: a fingerprint of the options and N), so a retry on the same node resumes the shard store, and
returns a snapshot of that store. The driver merges each finished shard into --store with `zcnas
merge` (one transaction per shard) and records it in STORE.zcnas-ray.json; a rerun of the same
command skips the shards recorded there.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time

from . import __version__
from .manifest import Manifest, ManifestError, fingerprint, manifest_path
from .shard import ShardFailed, ShardInterrupted, score_shard

# zcnas score options the driver sets itself.
_RESERVED = {"--store": "the driver sets each shard's store; name the output with zcnas-ray's --store",
             "--shard": "the driver assigns the shards; set their number with --shards",
             "--output": "export the merged store afterwards with `zcnas export`",
             "--quiet": "the driver reads zcnas's summary line"}
_MERGED = re.compile(r"(\d+) rows added, (\d+) already present")


class DriverError(Exception):
    """A one-line error for the user; exit status 1."""


def _run_shard(zcnas, score_args, k, n, workdir, fp, jobs):
    """The Ray task body: `score_shard` plus the Ray node it ran on."""
    import ray
    out = score_shard(zcnas, score_args, k, n, workdir, fp, jobs)
    out["node_id"] = ray.get_runtime_context().get_node_id()
    return out


def parse(argv: list[str]) -> argparse.Namespace:
    if "--" in argv:
        i = argv.index("--")
        own, score_args = argv[:i], argv[i + 1:]
    else:
        own, score_args = argv, []
    p = argparse.ArgumentParser(prog="zcnas-ray", description="Score zcnas architectures on a Ray cluster.")
    p.add_argument("--version", action="version", version=f"zcnas-ray {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("score", help="score a selection, one Ray task per shard, merged into --store",
                       description="Score a selection with one Ray task per shard (`zcnas score --shard K/N` on "
                       "its node) and merge the shards into --store; options after -- go to `zcnas score`.",
                       usage="zcnas-ray score [options] -- <zcnas score options>")
    s.add_argument("--address", default="auto",
                   help="Ray cluster address: auto (the cluster started with `ray start` on this machine), "
                   "HOST:PORT of the head, or local (start a one-machine Ray for this run). Default: auto")
    s.add_argument("--shards", type=int, required=True, help="number of shards N (one Ray task each)")
    s.add_argument("--store", required=True, help="output SQLite store on the driver's machine")
    s.add_argument("--zcnas", default=os.environ.get("ZCNAS", "zcnas"),
                   help="the zcnas executable, the same path on every node (default: $ZCNAS or zcnas on PATH)")
    s.add_argument("--num-cpus", type=float, default=1.0,
                   help="CPUs each task reserves (Ray num_cpus); zcnas gets --jobs of it unless given. Default 1")
    s.add_argument("--max-retries", type=int, default=3,
                   help="retries of a shard whose worker or zcnas process dies (Ray max_retries). Default 3")
    s.add_argument("--workdir", default="/tmp/zcnas-ray",
                   help="node-local folder for the shard stores (default /tmp/zcnas-ray)")
    a = p.parse_args(own)
    a.score_args = score_args
    if a.shards < 1:
        p.error(f"--shards: expected a positive number of shards, found {a.shards}")
    if not a.num_cpus > 0:
        p.error(f"--num-cpus: expected a positive number of CPUs, found {a.num_cpus}")
    if a.max_retries < 0:
        p.error(f"--max-retries: expected 0 or more, found {a.max_retries}")
    if not score_args:
        p.error("expected zcnas score options after -- (for example -- --archs all --metrics nwot)")
    for arg in score_args:
        name = arg.split("=", 1)[0]
        if name in _RESERVED:
            p.error(f"{name} after --: {_RESERVED[name]}")
    return a


def _local_zcnas(zcnas: str) -> str:
    """The driver's zcnas (for `zcnas merge`), checked to run."""
    exe = zcnas if os.sep in zcnas else shutil.which(zcnas)
    if exe is None or not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
        raise DriverError(f"--zcnas {zcnas}: no zcnas executable on this machine (build it with `swift build -c "
                          "release` and pass --zcnas /path/to/.build/release/zcnas, or set $ZCNAS)")
    r = subprocess.run([exe, "--version"], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if r.returncode != 0 or not r.stdout.startswith("zcnas"):
        raise DriverError(f"--zcnas {zcnas}: `{exe} --version` did not answer as zcnas does "
                          f"(exit status {r.returncode}: {(r.stderr or r.stdout).strip()[:200]})")
    return exe


def _merge(exe: str, store: str, data: bytes, k: int, n: int) -> tuple[int, int]:
    """Merges one shard's store bytes into `store` with `zcnas merge`; returns (added, already present)."""
    tmp = os.path.join(os.path.dirname(os.path.abspath(store)), f".zcnas-ray-{os.getpid()}-shard-{k}-of-{n}.sqlite")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        r = subprocess.run([exe, "merge", "--store", store, tmp], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if r.returncode != 0:
        raise DriverError(f"shard {k}/{n}: zcnas merge into {store} failed (nothing of this shard written): "
                          f"{r.stderr.strip() or r.stdout.strip()}")
    m = _MERGED.search(r.stdout)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _connect(address: str):
    import ray
    if address not in ("auto", "local") and ":" in address and "://" not in address:
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=10).close()
        except (OSError, ValueError) as e:
            raise DriverError(f"--address {address}: cannot reach a Ray head there ({e}); start one with "
                              "`ray start --head` or check the address") from None
    try:
        if address == "local":
            ray.init(logging_level=logging.WARNING, log_to_driver=False)
        else:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DriverError(f"--address {address}: cannot connect to Ray: {first} (start a cluster with `ray start "
                          "--head`, or pass --address HOST:PORT or local)") from None
    return ray


def score(a: argparse.Namespace) -> int:
    import ray.exceptions
    from tqdm import tqdm

    started = time.monotonic()
    store = os.path.abspath(a.store)
    if not os.path.isdir(os.path.dirname(store)):
        raise DriverError(f"--store {a.store}: no such folder {os.path.dirname(store)}")
    zcnas = os.path.abspath(a.zcnas) if os.sep in a.zcnas else a.zcnas
    exe = _local_zcnas(zcnas)
    workdir = os.path.abspath(a.workdir)
    n = a.shards
    fp = fingerprint(a.score_args, n)
    try:
        manifest = Manifest(manifest_path(store))
        merged_before = manifest.merged(fp)
    except ManifestError as e:
        raise DriverError(str(e)) from None
    if any(k >= n or k < 0 for k in merged_before):
        raise DriverError(f"{manifest.path}: run {fp} records shards outside 0..{n - 1}")
    todo = [k for k in range(n) if k not in merged_before]
    if not todo:
        print(f"zcnas-ray: all {n} shards of this run are already merged into {store} ({manifest.path})")
        return 0
    if merged_before:
        print(f"zcnas-ray: resuming: {len(merged_before)} of {n} shards already merged into {store}", file=sys.stderr)

    ray = _connect(a.address)
    jobs = None if any(x == "--jobs" or x.startswith("--jobs=") for x in a.score_args) else max(1, int(a.num_cpus))
    nodes = [x for x in ray.nodes() if x.get("Alive")]
    biggest = max((x.get("Resources", {}).get("CPU", 0) for x in nodes), default=0)
    if biggest < a.num_cpus:
        raise DriverError(f"--num-cpus {a.num_cpus}: no node of the cluster at {a.address} has that many CPUs "
                          f"(largest: {biggest:g}); tasks could never start")
    task = ray.remote(_run_shard).options(num_cpus=a.num_cpus, max_retries=a.max_retries,
                                          retry_exceptions=[ShardInterrupted])
    pending = {task.remote(zcnas, a.score_args, k, n, workdir, fp, jobs): k for k in todo}
    added = present = 0
    task_seconds = []
    resumed = []
    used_nodes = set()
    bar = tqdm(total=n, initial=len(merged_before), unit="shard", desc="shards merged", file=sys.stderr,
               dynamic_ncols=True, mininterval=0.5)
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            ref = ready[0]
            k = pending.pop(ref)
            try:
                out = ray.get(ref)
            except ray.exceptions.RayTaskError as e:
                cause = e.cause if getattr(e, "cause", None) is not None else e
                if isinstance(cause, (ShardFailed, ShardInterrupted)):
                    raise DriverError(str(cause)) from None
                raise DriverError(f"shard {k}/{n}: the task failed: {str(cause).strip().splitlines()[-1]}") from None
            except ray.exceptions.RayError as e:
                msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise DriverError(f"shard {k}/{n}: lost after {a.max_retries} retries: {msg}") from None
            ad, pr = _merge(exe, store, out["store_bytes"], k, n)
            manifest.record(fp, a.score_args, n, k)
            added += ad
            present += pr
            task_seconds.append(out["seconds"])
            used_nodes.add(out.get("node_id"))
            if out.get("already_stored"):
                resumed.append(k)
                bar.write(f"zcnas-ray: shard {k}/{n} resumed its node-local store: {out['already_stored']} "
                          f"architecture(s) were already scored there, {out['scored']} scored now", file=sys.stderr)
            bar.update(1)
    except BaseException as e:
        bar.close()
        for ref in pending:
            ray.cancel(ref, force=True)
        done = len(manifest.merged(fp))
        if isinstance(e, KeyboardInterrupt):
            print(f"zcnas-ray: interrupted; {done} of {n} shards are merged into {store}; rerun the same command "
                  "to score the rest", file=sys.stderr)
            return 130
        if isinstance(e, DriverError):
            raise DriverError(f"{e} ({done} of {n} shards are merged into {store} and kept; a rerun of the same "
                              "command scores only the rest)") from None
        raise
    bar.close()
    wall = time.monotonic() - started
    mean = sum(task_seconds) / len(task_seconds)
    print(f"zcnas-ray: merged {len(todo)} shard(s) into {store} ({len(merged_before)} merged before): {added} rows added, "
          f"{present} already present; tasks ran on {len(used_nodes)} node(s); {wall:.1f} s wall, {mean:.1f} s per "
          "shard task on its node"
          + (f"; shards {','.join(map(str, sorted(resumed)))} resumed" if resumed else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    a = parse(sys.argv[1:] if argv is None else argv)
    try:
        return score(a)
    except DriverError as e:
        print(f"zcnas-ray: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
