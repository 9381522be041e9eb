"""The Ray engine on this machine: throughput against the single process, driver memory, GPUs to add.

Three parts, all on a local Ray cluster of ``--cpus`` CPUs started here:

1. **Throughput.** ``--texts`` short generated prompts (``drift_tracking.demo``, no cache)
   checked against a baseline by the single process (embed + measure + decide) and by
   ``RayEngine.check`` (read + validate + embed on the actor pool + measure from block
   summaries + decide). Rows per second each; the Ray embedding stage alone gives the
   per-actor rate.
2. **Driver memory.** Windows of 100k and 1M rows with **synthetic** 384-d embeddings made
   by Ray tasks in the object store (no model: the memory question is the driver's, and
   embedding 1M texts on 2 CPUs would take hours). Each size runs in a fresh driver
   process joined to the same cluster; its peak RSS above its RSS before the window, in
   two parts: its private heap (what the window cost the driver) and the object store's
   shared pages it touched reading block summaries zero-copy (Ray's memory, counted in RSS). The sliced Wasserstein of the merged sketch is
   compared with the exact one where the exact one fits (100k).
3. **GPUs to add.** Expected rows/s with k embedding actors, from the measured per-actor
   rate and the measured cost of the statistics passes: n / (n / (k r) + t_stats(n)).
   A table, not a promise: measured on CPU actors here; a GPU actor's rate must be
   measured on the GPU (``--texts`` on a GPU node) and replaces r.

    python benchmarks/bench_ray.py                 # all three (about 15 minutes on 2 busy cores)
    python benchmarks/bench_ray.py --texts 1000 --sizes 100000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DIM = 384


def memory_mb() -> dict[str, float]:
    """This process's resident memory now (Linux /proc), in MB: all of it, and its private part.

    ``rss`` counts the object store's shared pages this process has touched (results read
    zero-copy from Ray's store); ``anon`` is the driver's own heap, what a window costs it.
    """
    fields = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon", "RssShmem"):
                fields[name] = int(value.split()[0]) / 1024
    return {"rss": fields["VmRSS"], "anon": fields["RssAnon"], "shmem": fields.get("RssShmem", 0.0)}


class PeakRss:
    """The highest resident memory of this process (each part) while the block runs, sampled every 20 ms."""

    def __enter__(self) -> "PeakRss":
        import threading

        self.peak, self._stop = memory_mb(), threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        now = memory_mb()
        self.peak = {k: max(v, now[k]) for k, v in self.peak.items()}

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self._sample()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def synthetic_baseline(n: int = 5000, seed: int = 0):
    """A baseline fitted on unit vectors around 30 topic centres (no calibration: not decided on here)."""
    from drift_tracking.baseline import Baseline
    from drift_tracking.embedding import ModelIdentity

    x = mixture(n, np.random.default_rng(seed))
    identity = ModelIdentity(name="synthetic", dimension=DIM, weights_sha256="0" * 64)
    return Baseline(seed=seed, calibrate=False).fit(x, identity=identity, texts=[f"topic {i % 30}" for i in range(n)])


def mixture(n: int, rng: np.random.Generator, novel: float = 0.0) -> np.ndarray:
    centres = np.random.default_rng(123).standard_normal((40, DIM)).astype(np.float32)
    which = rng.integers(0, 30, n)
    which[rng.random(n) < novel] = rng.integers(30, 40)
    x = centres[which] + 0.35 * rng.standard_normal((n, DIM)).astype(np.float32) / np.sqrt(DIM)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def synthetic_block(seed: int, rows: int):
    """One block of the embedded-log layout with synthetic embeddings (20% from unseen topics)."""
    import pyarrow as pa

    from drift_tracking.engines import blocks as blk

    x = mixture(rows, np.random.default_rng(seed), novel=0.2)
    texts = [f"request {seed}-{i}" for i in range(rows)]
    return pa.table({
        blk.PROMPT: texts, blk.RESPONSE: pa.nulls(rows, pa.string()), blk.INVALID: pa.nulls(rows, pa.string()),
        blk.INVALID_COLUMN: pa.nulls(rows, pa.string()), blk.TIME: pa.nulls(rows, pa.int64()),
        blk.EMBEDDING: pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), DIM),
    })


def driver_memory(rows: int, block_rows: int, address: str) -> dict:
    """One window of ``rows`` synthetic rows measured from block summaries; this process's memory."""
    import ray

    from drift_tracking.engines import blocks as blk
    from drift_tracking.engines.driver import index_log, measure_window
    from drift_tracking.engines.ray_engine import RayEngine

    engine = RayEngine(address)
    engine.connect()
    baseline = synthetic_baseline()
    make = ray.remote(num_cpus=1)(synthetic_block)
    seeds = range(0, rows // block_rows)
    refs = [make.remote(seed, block_rows) for seed in seeds]  # made in the cluster, never here
    ray.wait(refs, num_returns=len(refs))
    before, start = memory_mb(), time.perf_counter()
    with PeakRss() as watch:
        index = index_log(refs, blk.Slots(), engine.runner)
        measured = measure_window(baseline, index, 0, engine.runner, with_texts=True)
    seconds = time.perf_counter() - start
    out = {"rows": rows, "driver_rss_before_mb": round(before["rss"], 1), "driver_peak_mb": round(watch.peak["rss"], 1),
           "driver_added_mb": round(watch.peak["rss"] - before["rss"], 1),
           "driver_heap_before_mb": round(before["anon"], 1), "driver_heap_peak_mb": round(watch.peak["anon"], 1),
           "driver_heap_added_mb": round(watch.peak["anon"] - before["anon"], 1),
           "driver_store_pages_peak_mb": round(watch.peak["shmem"], 1), "stats_seconds": round(seconds, 1),
           "wasserstein_sketch": measured.prompts.metrics["wasserstein"],
           "novel_cluster_share": measured.prompts.metrics["novel_cluster_share"]}
    if rows <= 200_000:  # the exact value needs the whole window here: only where it fits
        from drift_tracking import statistics as st

        window = np.vstack([mixture(block_rows, np.random.default_rng(seed), novel=0.2) for seed in seeds])
        out["wasserstein_exact"] = st.wasserstein(baseline.prompts_.embeddings_, window)
    return out


def throughput(n_texts: int, cpus: int) -> dict:
    """Single process against the Ray engine on the same generated file, neither with a cache."""
    from drift_tracking import demo
    from drift_tracking.baseline import Baseline
    from drift_tracking.data import load_texts
    from drift_tracking.embedding import Embedder
    from drift_tracking.engines.ray_engine import RayEngine, embedder_factory
    from drift_tracking.monitor import Monitor

    work = Path(os.environ.get("BENCH_DIR", "/tmp/drift-bench-ray"))
    work.mkdir(parents=True, exist_ok=True)
    embedder = Embedder(device="cpu", cache_dir=False)
    pool = demo.generate(600, seed=1)
    # fixed levels: calibrating a 600-row baseline can give an extreme level under the critical one
    baseline = Baseline(calibrate=False).fit_texts([s.prompt for s in pool], embedder=embedder)
    path = demo.write([{"prompt": s.prompt} for s in demo.generate(n_texts, seed=7, novel_share=0.3)],
                      work / "window.jsonl")
    start = time.perf_counter()
    Monitor(baseline, embedder=embedder).check(load_texts(path))
    local = time.perf_counter() - start
    engine = RayEngine(num_cpus=cpus)
    engine.connect()
    make = embedder_factory(baseline=baseline, cache_dir=False)
    start = time.perf_counter()
    log = engine.load(str(path), make, responses=False)  # read + validate + embed + index: the actors' share
    embed_seconds = time.perf_counter() - start
    start = time.perf_counter()
    engine.check(baseline, str(path), make_embedder=make)
    on_ray = time.perf_counter() - start
    actors = max(1, cpus)
    return {"texts": n_texts, "local_rows_per_s": n_texts / local, "ray_rows_per_s": n_texts / on_ray,
            "ray_load_embed_s": embed_seconds, "actors": actors,
            "per_actor_rows_per_s": n_texts / embed_seconds / actors, "blocks": len(log.index.blocks)}


def gpu_table(per_actor: float, stats_seconds: float, rows: int) -> str:
    lines = ["| embedding actors k | expected rows/s | 1M rows in |", "|---|---|---|"]
    for k in (1, 2, 4, 8, 16, 32):
        seconds = rows / (k * per_actor) + stats_seconds
        lines.append(f"| {k} | {rows / seconds:,.0f} | {seconds / 60:.1f} min |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--block-rows", type=int, default=50_000)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--driver-rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.driver_rows:
        print(json.dumps(driver_memory(args.driver_rows, args.block_rows, args.address)))
        return
    import ray

    print(f"nproc {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (shared machine: timings are noisy)")
    result = throughput(args.texts, args.cpus) if args.texts else {}
    if result:
        print(f"throughput on {args.texts} short texts (no cache): single process {result['local_rows_per_s']:.1f} "
              f"rows/s, Ray ({args.cpus} CPUs, {result['actors']} actors) {result['ray_rows_per_s']:.1f} rows/s; "
              f"per-actor embedding rate {result['per_actor_rows_per_s']:.1f} rows/s")
    address = ray.get_runtime_context().gcs_address if ray.is_initialized() else None
    if address is None:
        ray.init(num_cpus=args.cpus, include_dashboard=False)
        address = ray.get_runtime_context().gcs_address
    memory = []
    for rows in args.sizes:
        done = subprocess.run([sys.executable, __file__, "--driver-rows", str(rows), "--address", address,
                               "--block-rows", str(min(args.block_rows, rows))],
                              capture_output=True, text=True, check=True)
        memory.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"driver memory, {rows:,} rows (synthetic embeddings): {json.dumps(memory[-1])}")
    if result and memory:
        print(f"\nexpected throughput by embedding actors (r = {result['per_actor_rows_per_s']:.1f} rows/s per "
              f"CPU actor measured here, statistics of {memory[-1]['rows']:,} rows {memory[-1]['stats_seconds']} s):")
        print(gpu_table(result["per_actor_rows_per_s"], memory[-1]["stats_seconds"], memory[-1]["rows"]))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
