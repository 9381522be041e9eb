"""Embedding throughput: drift-tracking's Embedder against raw SentenceTransformer.encode.

Both run in this process on the same texts, so the ratio is meaningful whatever the
machine. Prints texts/s for: raw encode (one call, the reference), the Embedder on a
cold cache (hashing, de-duplication and cache writes included), and the Embedder on a
warm cache (repeated texts).

    python benchmarks/bench_embedding.py               # generated prompts
    python benchmarks/bench_embedding.py --data ../shared/data/banking77/train.csv --column text
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="number of texts")
    parser.add_argument("--data", default=None, help="optional .csv/.jsonl/.parquet with real texts")
    parser.add_argument("--column", default="prompt")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="timed repeats; the best is reported")
    args = parser.parse_args()

    from drift_tracking import demo
    from drift_tracking.data import load_texts
    from drift_tracking.embedding import Embedder, select_device

    if args.data:
        texts = load_texts(args.data, text_column=args.column).prompts[: args.n]
    else:
        texts = [s.prompt for s in demo.generate(args.n, seed=7)]
    texts = list(dict.fromkeys(texts))  # distinct texts: a cold cache must embed every one
    device = select_device(args.device)

    from sentence_transformers import SentenceTransformer

    from drift_tracking.embedding import bundled_model_path

    raw = SentenceTransformer(str(bundled_model_path()), device=device)
    if device.startswith("cuda"):
        raw.half()
    raw.encode(texts[:64], batch_size=args.batch_size)  # warm-up

    def best(fn) -> float:
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    t_raw = best(lambda: raw.encode(texts, batch_size=args.batch_size, show_progress_bar=False))

    def cold() -> None:
        with tempfile.TemporaryDirectory() as cache:
            Embedder(device=device, batch_size=args.batch_size, cache_dir=cache, show_progress=False).encode(texts)

    Embedder(device=device, cache_dir=False).encode(texts[:64])  # load the model once (cached in-process)
    t_cold = best(cold)
    with tempfile.TemporaryDirectory() as cache:
        warm = Embedder(device=device, batch_size=args.batch_size, cache_dir=cache, show_progress=False)
        warm.encode(texts)
        t_warm = best(lambda: warm.encode(texts))

    n = len(texts)
    print(f"device={device} texts={n} batch_size={args.batch_size}")
    print(f"raw SentenceTransformer.encode : {n / t_raw:8.1f} texts/s  ({t_raw:.2f} s)")
    print(f"Embedder, cold cache            : {n / t_cold:8.1f} texts/s  ({t_cold:.2f} s)  overhead {t_cold / t_raw - 1:+.1%}")
    print(f"Embedder, warm cache            : {n / t_warm:8.1f} texts/s  ({t_warm:.3f} s)  speed-up x{t_raw / t_warm:.0f}")


if __name__ == "__main__":
    main()
