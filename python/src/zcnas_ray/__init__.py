"""zcnas-ray: score zcnas search spaces on a Ray cluster (one task per shard, merged into one store)."""

__version__ = "0.1.0"
