"""Tables and the plot of the detection benchmark, from the runners' per-window rows."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from pathlib import Path
from typing import Any

import numpy as np

from detection_data import Corpus, Window, scenario_names, tripled_intents

_SCENARIO_TITLES = {
    "clean": "clean",
    "mild_mix": "mild mix",
    "strong_mix": "strong mix",
    "unseen_05": "5% unseen",
    "unseen_10": "10% unseen",
    "unseen_20": "20% unseen",
    "unseen_40": "40% unseen",
    "gradual": "gradual 0→40%",
}


def _cell(rows: list[dict]) -> str:
    """'alarms/total (c critical)' for one detector x scenario x n."""
    alarms = sum(r["alarm"] for r in rows)
    text = f"{alarms}/{len(rows)}"
    if "critical" in rows[0]:
        text += f" ({sum(r['critical'] for r in rows)} crit)"
    return text


def _gradual_note(rows: list[dict]) -> str:
    """The unseen share at the first alarm of the ramp."""
    first = next((r for r in sorted(rows, key=lambda r: r["i"]) if r["alarm"]), None)
    return f", first at {first['unseen_share']:.0%}" if first else ""


def detection_table(results: dict[str, dict[int, dict]], sizes: list[int]) -> list[str]:
    """Alarms per detector x scenario x n, with median seconds per check and peak memory."""
    scenarios = scenario_names()
    head = ["detector", "n", *[_SCENARIO_TITLES[s] for s in scenarios], "median s/check", "peak MB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, per_n in results.items():
        if name == "unexplained_share":
            continue
        for n in sizes:
            res = per_n.get(n, {})
            if "rows" not in res:
                lines.append(f"| {name} | {n:,} | " + " | ".join(["–"] * len(scenarios)) + f" | {res.get('skipped', '')} | |")
                continue
            cells = []
            for s in scenarios:
                rows = [r for r in res["rows"] if r["scenario"] == s]
                cells.append(_cell(rows) + (_gradual_note(rows) if s == "gradual" else "") if rows else "–")
            secs = statistics.median(r["seconds"] for r in res["rows"])
            lines.append(f"| {name} | {n:,} | " + " | ".join(cells) + f" | {secs:.3f} | {res['peak_rss_mb']:.0f} |")
    return lines


def estimate_table(results: dict[str, dict[int, dict]], sizes: list[int]) -> list[str]:
    """Median (5th-95th percentile) of unexplained_share and of novel_cluster_share per cell."""
    scenarios = [s for s in scenario_names() if s != "gradual"]
    head = ["statistic", "n", *[_SCENARIO_TITLES[s] for s in scenarios], "median s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    sources = [("unexplained_share", "unexplained_share", "estimate"),
               ("novel_cluster_share (today)", "drift-tracking", "novel_cluster_share")]
    for label, det, key in sources:
        for n in sizes:
            res = results.get(det, {}).get(n, {})
            if "rows" not in res:
                continue
            cells = []
            for s in scenarios:
                v = np.array([r[key] for r in res["rows"] if r["scenario"] == s])
                cells.append(f"{np.median(v):.3f} ({np.quantile(v, 0.05):.3f}-{np.quantile(v, 0.95):.3f})" if v.size else "–")
            secs = statistics.median(r["seconds"] for r in res["rows"]) if det == "unexplained_share" else None
            lines.append(f"| {label} | {n:,} | " + " | ".join(cells) + f" | {'' if secs is None else f'{secs:.3f}'} |")
    return lines


def accuracy_table(results: dict[str, dict[int, dict]], sizes: list[int]) -> list[str]:
    """The estimate's error against the true unseen share: median error, max |error| per cell."""
    res_by_n = results.get("unexplained_share", {})
    lines = ["| n | scenario | true share | median estimate | median error | max abs error | windows |",
             "|---|---|---|---|---|---|---|"]
    for n in sizes:
        rows = res_by_n.get(n, {}).get("rows", [])
        for s in [s for s in scenario_names() if s != "gradual"]:
            cell = [r for r in rows if r["scenario"] == s]
            if not cell:
                continue
            err = np.array([r["estimate"] - r["unseen_share"] for r in cell])
            est = np.median([r["estimate"] for r in cell])
            lines.append(f"| {n:,} | {_SCENARIO_TITLES[s]} | {cell[0]['unseen_share']:.2f} | {est:.3f} | "
                         f"{np.median(err):+.3f} | {np.abs(err).max():.3f} | {len(cell)} |")
    return lines


def machine_lines(args: argparse.Namespace, corpus: Corpus, windows: list[Window],
                  results: dict[str, dict[int, dict]], identity: dict) -> list[str]:
    versions: dict[str, str] = {}
    for per_n in results.values():
        for res in per_n.values():
            versions.update(res.get("versions", {}))
    resampled = sorted({(w.scenario, w.n) for w in windows if w.resampled}, key=lambda t: (t[1], t[0]))
    load = os.getloadavg()
    return [
        f"- machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores (nproc), "
        f"load average at the end {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; "
        f"Python {platform.python_version()}. Timings on a shared machine are noisy.",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
        f"- embeddings: {identity['name']} (bundled, {identity['dimension']}-d, fingerprint "
        f"{identity['fingerprint']}); embedding time is excluded from every timing",
        f"- data: {args.data.name}, {len(corpus.texts):,} texts; seed {args.seed}: "
        f"{int(corpus.seen.sum())} seen / {int((~corpus.seen).sum())} unseen intents "
        f"(unseen: {', '.join(corpus.unseen_names)}); baseline {len(corpus.baseline_idx):,} train rows "
        f"of seen intents; held-out pool {len(corpus.held_out_idx):,} rows; strong mix triples "
        f"{', '.join(tripled_intents(corpus, args.seed))}",
        *([f"- rows of {', '.join(args.only)} come from a later run (`--only`) merged into the previous "
            "results; the load average above is that run's"] if args.only else []),
        f"- {args.windows} windows per scenario and size unless the cell says fewer; windows drawn with "
        "replacement (pool smaller than the window): "
        + (", ".join(f"{s} n={n:,}" for s, n in resampled) or "none"),
    ]


def write_plot(results: dict[str, dict[int, dict]], sizes: list[int], path: Path) -> None:
    """Detection rate against the true unseen share (0 = clean), one panel per window size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = ["clean", "unseen_05", "unseen_10", "unseen_20", "unseen_40"]
    shares = np.array([0, 5, 10, 20, 40])
    names = [d for d in results if d != "unexplained_share"]
    colours = {d: plt.get_cmap("tab10")(i) for i, d in enumerate(names)}
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 4.2), sharey=True, squeeze=False)
    handles: dict[str, Any] = {}
    for ax, n in zip(axes[0], sizes):
        for name in names:
            rows = results[name].get(n, {}).get("rows")
            if not rows:
                continue
            for key, style, label in (("alarm", "-o", name), ("critical", "--x", f"{name} (critical)")):
                if key not in rows[0]:
                    continue
                rate = np.array([np.mean([r[key] for r in rows if r["scenario"] == s] or [np.nan]) for s in scenarios])
                ok = ~np.isnan(rate)
                (line,) = ax.plot(shares[ok], rate[ok], style, color=colours[name], label=label)
                handles.setdefault(label, line)
        ax.set_title(f"n = {n:,}")
        ax.set_xlabel("unseen-intent share of the window (%)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("share of windows alarmed")
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=min(4, len(handles)), fontsize=8)
    fig.subplots_adjust(bottom=0.3)
    fig.suptitle("banking77: detection rate against unseen share (0% = clean)")
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(args: argparse.Namespace, corpus: Corpus, windows: list[Window],
                  results: dict[str, dict[int, dict]], identity: dict) -> None:
    args.out.mkdir(parents=True, exist_ok=True)
    name = "detection-quick" if args.quick else "detection"
    md = [f"# Detection on {args.data.name}", "", *machine_lines(args, corpus, windows, results, identity), "",
          "## Alarms (tier not ok / drift flagged) out of windows checked", "",
          *detection_table(results, args.sizes), "",
          "## Unexplained share (new estimate) and novel_cluster_share: median (5th-95th percentile)", "",
          *estimate_table(results, args.sizes), "",
          "## Accuracy of unexplained_share against the true unseen share", "",
          *accuracy_table(results, args.sizes), ""]
    (args.out / f"{name}.md").write_text("\n".join(md))
    raw: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "identity": identity,
                           "results": {d: {str(n): r for n, r in per_n.items()} for d, per_n in results.items()}}
    (args.out / f"{name}.json").write_text(json.dumps(raw, indent=1))
    write_plot(results, args.sizes, args.out / f"{name}.png")
    print("\n".join(md))
