"""Embedding throughput by backend, on the same texts in the same run, and agreement with PyTorch.

Every backend embeds the same distinct texts in this process; the timed runs are
interleaved (one run of each backend per round, best round reported) so a neighbour's
load hits all of them alike, and the ratios stay meaningful on a busy machine. Prints:

* texts/s of raw ``SentenceTransformer.encode`` (the reference), of the Embedder with the
  torch backend, ONNX Runtime fp32 and ONNX Runtime int8 (vector cache off, so every
  text is embedded), and optionally of an OpenAI-compatible endpoint (``--endpoint``);
* each backend's agreement with PyTorch: mean and minimum cosine of the same text's two
  vectors, and the share of top-10 neighbours (within the texts) they keep;
* the Embedder's own overhead: cold vector cache (hashing, de-duplication, cache
  writes) and warm cache (repeated texts);
* the texts' mean token count (the model tokenizer's, as reports count it) and, per
  backend, the hours one machine like this one needs to embed 1M such texts: the
  numbers behind the README's cost comparison.

    python benchmarks/bench_embedding.py                       # generated prompts
    python benchmarks/bench_embedding.py --data ../shared/data/banking77/train.csv --column text
    python benchmarks/bench_embedding.py --endpoint http://localhost:8080/v1 --endpoint-model all-MiniLM-L6-v2

The ONNX rows need ``pip install -e '.[onnx]'``; without it they are skipped with a note.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from collections.abc import Callable

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="number of texts")
    parser.add_argument("--data", default=None, help="optional .csv/.jsonl/.parquet with real texts")
    parser.add_argument("--column", default="prompt")
    parser.add_argument("--device", default="cpu", help="torch device (ONNX runs on the CPU)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds; the best of each backend is reported")
    parser.add_argument("--endpoint", default=None, help="also time an OpenAI-compatible endpoint at this URL")
    parser.add_argument("--endpoint-model", default="all-MiniLM-L6-v2")
    return parser.parse_args()


def _texts(args: argparse.Namespace) -> list[str]:
    from drift_tracking import demo
    from drift_tracking.data import load_texts

    if args.data:
        texts = load_texts(args.data, text_column=args.column).prompts[: args.n]
    else:
        texts = [s.prompt for s in demo.generate(args.n, seed=7)]
    return list(dict.fromkeys(texts))  # distinct texts: every backend must embed every one


def _neighbour_overlap(a: np.ndarray, b: np.ndarray, k: int = 10) -> float:
    """Mean share of each text's k nearest neighbours (cosine, among the texts) that both agree on."""
    def top(x: np.ndarray) -> np.ndarray:
        sims = x @ x.T
        np.fill_diagonal(sims, -np.inf)
        return np.argsort(-sims, axis=1)[:, :k]

    ta, tb = top(a), top(b)
    return float(np.mean([len(set(ra) & set(rb)) / k for ra, rb in zip(ta, tb)]))


def _backends(args: argparse.Namespace, texts: list[str]) -> tuple[dict[str, Callable[[], np.ndarray]], float]:
    """name -> a function embedding all ``texts`` once, each warmed up and loaded before timing; and the
    texts' mean token count (from the torch Embedder's usage)."""
    from sentence_transformers import SentenceTransformer

    from drift_tracking.embedding import Embedder, bundled_model_path

    raw = SentenceTransformer(str(bundled_model_path()), device=args.device)
    if args.device.startswith("cuda"):
        raw.half()
    runs: dict[str, Callable[[], np.ndarray]] = {
        "sentence-transformers (raw encode)": lambda: raw.encode(texts, batch_size=args.batch_size,
                                                                 show_progress_bar=False),
    }
    options = {"batch_size": args.batch_size, "cache_dir": False, "show_progress": False}
    embedders = {"Embedder, torch": Embedder(device=args.device, **options)}
    if importlib.util.find_spec("onnxruntime") is not None:
        embedders["Embedder, onnx (fp32)"] = Embedder(backend="onnx", **options)
        embedders["Embedder, onnx-int8"] = Embedder(backend="onnx-int8", **options)
    else:
        print("note: onnxruntime is not installed (pip install -e '.[onnx]'): the ONNX rows are skipped")
    if args.endpoint:
        embedders["Embedder, endpoint"] = Embedder(args.endpoint_model, endpoint=args.endpoint, **options)
    for name, embedder in embedders.items():
        started = time.perf_counter()
        identity = embedder.identity  # loads, exports on first use, probes an endpoint
        print(f"loaded {name:<28} in {time.perf_counter() - started:5.1f} s  (fingerprint {identity.fingerprint})")
        runs[name] = lambda embedder=embedder: embedder.encode(texts)
    raw.encode(texts[:64], batch_size=args.batch_size)  # warm-up
    for run in list(runs.values())[1:]:
        run()  # warm-up, and the vectors agreement is measured on
    usage = embedders["Embedder, torch"].usage
    return runs, usage.tokens / max(usage.embedded, 1)


def _timed(runs: dict[str, Callable[[], np.ndarray]], rounds: int) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    best = {name: float("inf") for name in runs}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for name, run in runs.items():  # interleaved: load on the machine hits every backend alike
            started = time.perf_counter()
            vectors[name] = np.asarray(run(), dtype=np.float32)
            best[name] = min(best[name], time.perf_counter() - started)
    return best, vectors


def _cache_overhead(args: argparse.Namespace, texts: list[str], t_raw: float) -> None:
    from drift_tracking.embedding import Embedder

    def cold() -> None:
        with tempfile.TemporaryDirectory() as cache:
            Embedder(device=args.device, batch_size=args.batch_size, cache_dir=cache, show_progress=False).encode(texts)

    t_cold = min(_seconds(cold) for _ in range(args.rounds))
    with tempfile.TemporaryDirectory() as cache:
        warm = Embedder(device=args.device, batch_size=args.batch_size, cache_dir=cache, show_progress=False)
        warm.encode(texts)
        t_warm = min(_seconds(lambda: warm.encode(texts)) for _ in range(args.rounds))
    n = len(texts)
    print(f"Embedder torch, cold cache           : {n / t_cold:8.1f} texts/s  overhead {t_cold / t_raw - 1:+.1%}")
    print(f"Embedder torch, warm cache           : {n / t_warm:8.1f} texts/s  speed-up x{t_raw / t_warm:.0f}")


def _seconds(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    args = _args()
    texts = _texts(args)
    runs, tokens_per_text = _backends(args, texts)
    best, vectors = _timed(runs, args.rounds)
    reference_name = next(iter(runs))
    reference, t_raw, n = vectors[reference_name], best[reference_name], len(texts)
    load = os.getloadavg()
    print(f"\ntexts={n} batch_size={args.batch_size} device={args.device} rounds={args.rounds} "
          f"cpus={os.cpu_count()} load={load[0]:.1f}/{load[1]:.1f}")
    print(f"tokens per text (mean, special tokens included): {tokens_per_text:.1f}")
    print(f"{'backend':<37}{'texts/s':>9}{'vs raw':>8}{'cos mean':>10}{'cos min':>9}{'top-10':>8}{'h/1M':>7}")
    for name, seconds in best.items():
        cosines = (vectors[name] * reference).sum(1) / (
            np.linalg.norm(vectors[name], axis=1) * np.linalg.norm(reference, axis=1))
        overlap = _neighbour_overlap(vectors[name], reference)
        print(f"{name:<37}{n / seconds:9.1f}{t_raw / seconds:7.2f}x{cosines.mean():10.5f}{cosines.min():9.5f}"
              f"{overlap:8.3f}{seconds / n * 1e6 / 3600:7.2f}")
    print()
    _cache_overhead(args, texts, t_raw)


if __name__ == "__main__":
    main()
