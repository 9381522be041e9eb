"""Time to first result: ``drift-tracking demo`` as a newcomer runs it, stage by stage.

Runs the installed ``drift-tracking demo`` script in a subprocess with a cold embedding
cache (a fresh ``DRIFT_TRACKING_CACHE_DIR``) and a fresh ``--dir``, reads the demo's own
progress lines (``[3/9] Embedding ... 8.1 s``) and prints where the time goes: start-up
(interpreter and imports, before the first stage), each stage, and the whole run.

As a reference measured in the same run, a bare ``SentenceTransformer.encode`` of the
same texts (the baseline period's prompts and responses and both windows', the demo's
irreducible work) runs in its own subprocess, also from a cold start; the ratio
demo / reference says how much the demo adds around embedding, whatever the machine.

    python benchmarks/bench_demo.py                      # the defaults a newcomer gets
    python benchmarks/bench_demo.py --repeats 3          # best of three
    python benchmarks/bench_demo.py --n-baseline 3000 --n-window 1000

On a shared machine the figures move with the load, so the load average is printed
before and after; compare ratios, not seconds, across machines.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGE = re.compile(r"^\[(\d+)/(\d+)\] (.+?) \.\.\..*?(\d+\.\d) s$", re.M)
DONE = re.compile(r"^Done in (\d+\.\d) s\.$", re.M)

#: The reference: the demo's texts embedded by sentence-transformers alone, nothing else.
REFERENCE = """
import sys, time
start = time.perf_counter()
from drift_tracking import demo
from drift_tracking.embedding import bundled_model_path
from sentence_transformers import SentenceTransformer
n_baseline, n_window = int(sys.argv[1]), int(sys.argv[2])
rows = demo.generate(n_baseline, seed=1) + demo.generate(n_window, seed=2) + demo.generate(
    n_window, seed=3, novel_share=0.4)
texts = [r.prompt for r in rows] + [r.response for r in rows]
model = SentenceTransformer(str(bundled_model_path()), device="cpu")
loaded = time.perf_counter()
model.encode(texts, batch_size=32)
print(f"{loaded - start:.2f} {time.perf_counter() - loaded:.2f} {len(texts)}")
"""


def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "WANDB_"))}
    env.update(DRIFT_TRACKING_CACHE_DIR=str(cache), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


def run_demo(args: argparse.Namespace) -> dict:
    """One cold demo run: wall time from the shell's point of view and each stage's own time."""
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        script = Path(sys.executable).parent / "drift-tracking"
        command = [str(script), "demo", "--dir", str(Path(tmp) / "drift-demo"), "--n-baseline", str(args.n_baseline),
                   "--n-window", str(args.n_window), "--device", args.device]
        start = time.perf_counter()
        result = subprocess.run(command, cwd=tmp, env=_env(Path(tmp) / "cache"), capture_output=True, text=True)
        wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"the demo failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    stages = [(text, float(seconds)) for _, _, text, seconds in STAGE.findall(result.stdout)]
    done = float(DONE.search(result.stdout).group(1))
    tiers = re.findall(r"Drift tier: (\w+)", result.stdout)
    return {"wall": wall, "done": done, "startup": wall - done, "stages": stages, "tiers": tiers}


def run_reference(args: argparse.Namespace) -> tuple[float, float, int]:
    """Import + load the model, then encode every text the demo embeds: (load s, encode s, texts)."""
    with tempfile.TemporaryDirectory(prefix="bench-demo-ref-") as tmp:
        out = subprocess.run([sys.executable, "-c", REFERENCE, str(args.n_baseline), str(args.n_window)],
                             cwd=tmp, env=_env(Path(tmp) / "cache"), capture_output=True, text=True, check=True)
    load, encode, n = out.stdout.split()
    return float(load), float(encode), int(n)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-baseline", type=int, default=1000, help="the demo's --n-baseline (its default)")
    parser.add_argument("--n-window", type=int, default=300, help="the demo's --n-window (its default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=1, help="cold runs of each; the fastest is reported")
    parser.add_argument("--no-reference", action="store_true", help="skip the bare-encode reference")
    args = parser.parse_args()

    print(f"before: {_load()}")
    runs = [run_demo(args) for _ in range(args.repeats)]
    best = min(runs, key=lambda r: r["wall"])
    print(f"\ndrift-tracking demo --n-baseline {args.n_baseline} --n-window {args.n_window} --device {args.device}"
          f"  (cold cache; fastest of {args.repeats}; tiers {' / '.join(best['tiers'])})")
    print(f"  {'start-up: interpreter, imports, option checks':<72} {best['startup']:6.1f} s")
    for text, seconds in best["stages"]:
        print(f"  {text[:72]:<72} {seconds:6.1f} s")
    print(f"  {'total, as a user waits for it':<72} {best['wall']:6.1f} s")
    if len(runs) > 1:
        walls = ", ".join(f"{r['wall']:.1f}" for r in runs)
        print(f"  all runs: {walls} s")
    if not args.no_reference:
        refs = [run_reference(args) for _ in range(args.repeats)]
        load, encode, n = min(refs, key=lambda r: r[0] + r[1])
        print(f"\nreference: bare SentenceTransformer.encode of the same {n:,} texts (cold start)")
        print(f"  import + model load {load:.1f} s, encode {encode:.1f} s, total {load + encode:.1f} s")
        print(f"  demo / reference = {best['wall'] / (load + encode):.2f}"
              f"  (embedding stages / encode = {_embedding_share(best) / encode:.2f})")
    print(f"\nafter: {_load()}")


def _embedding_share(run: dict) -> float:
    """Seconds the demo spent in the stages that embed (the baseline and both windows)."""
    return sum(s for text, s in run["stages"] if text.startswith(("Embedding", "Checking")))


if __name__ == "__main__":
    main()
