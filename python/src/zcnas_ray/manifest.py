"""The driver's record of merged shards: a JSON file next to the output store.

`STORE.zcnas-ray.json` holds one entry per run, keyed by a fingerprint of the zcnas score options and
the number of shards: {"version": 1, "runs": {FP: {"score_args": [...], "shards": N, "merged": [K, ...]}}}.
A shard is recorded only after `zcnas merge` committed it, so a rerun skips exactly what is in the store
(a crash between the two merges the shard again, which adds nothing: equal rows are taken once).
"""

from __future__ import annotations

import hashlib
import json
import os


class ManifestError(Exception):
    pass


def fingerprint(score_args: list[str], shards: int) -> str:
    """16 hex digits of SHA-256 over the score options and the shard count (the run's identity)."""
    text = json.dumps({"score_args": score_args, "shards": shards}, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def manifest_path(store: str) -> str:
    return store + ".zcnas-ray.json"


class Manifest:
    def __init__(self, path: str):
        self.path = path
        self.data = {"version": 1, "runs": {}}
        if os.path.exists(path):
            try:
                with open(path) as f:
                    data = json.load(f)
            except (OSError, ValueError) as e:
                raise ManifestError(f"{path}: cannot read the manifest ({e}); move it away to start over") from None
            if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("runs"), dict):
                raise ManifestError(f"{path}: expected a zcnas-ray manifest (version 1 with runs), found something else")
            self.data = data

    def merged(self, fp: str) -> set[int]:
        run = self.data["runs"].get(fp)
        if not run:
            return set()
        ks = run.get("merged", [])
        if not isinstance(ks, list) or not all(isinstance(k, int) for k in ks):
            raise ManifestError(f"{self.path}: run {fp}: expected a list of shard numbers under 'merged'")
        return set(ks)

    def record(self, fp: str, score_args: list[str], shards: int, k: int) -> None:
        """Adds shard k to run fp and rewrites the file atomically."""
        run = self.data["runs"].setdefault(fp, {"score_args": score_args, "shards": shards, "merged": []})
        if k not in run["merged"]:
            run["merged"] = sorted(run["merged"] + [k])
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
