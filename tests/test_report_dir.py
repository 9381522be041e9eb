"""`check --report DIR` / `monitor --report DIR`: one page a person opens without MLflow or W&B.

The folder holds ``report.html`` (self-contained: figures as data URIs, tables, no script),
``report.json`` and each figure as PNG. The page is checked twice: parsed here (every
image decodes to the PNG next to it, every table is present, hostile prompts stay text)
and opened in a real headless Chromium, where every image must decode, nothing may be
fetched and no injected script may run.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from html.parser import HTMLParser
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from PIL import Image

from drift_tracking import demo
from drift_tracking.cli import main
from drift_tracking.cli_common import check_output_dir, check_output_file
from drift_tracking.cli_report import REPORT_FOLDER_FILES, write_report_dir
from headless import Browser, find_browser
from test_plots import _history, make_report

FIGURES = ("cluster_scatter.png", "cluster_shares.png", "metric_timeseries.png")
HOSTILE = '<script>window.__pwned = true</script><img src=x onerror="window.__pwned = true"> refund {}'


class _Page(HTMLParser):
    """Tags, image sources, table count and visible text of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.images: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _hostile_report():
    """A hand-made report whose novel cluster quotes prompts that try to run script."""
    report = make_report()
    clusters = [dict(report.novel_clusters[0], examples=[HOSTILE.format(i) for i in range(3)]),
                *report.novel_clusters[1:]]
    return dataclasses.replace(report, novel_clusters=clusters)


def test_report_folder_holds_the_page_the_json_and_every_figure(tmp_path):
    report = _hostile_report()
    page_path = write_report_dir(report, tmp_path / "out", _history(3))
    assert page_path == tmp_path / "out" / "report.html"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(["report.html", "report.json", *FIGURES])
    assert json.loads((tmp_path / "out" / "report.json").read_text())["tier"] == report.tier

    page = _parse(page_path)
    assert page.tags.count("table") >= 5  # metrics, cluster shift, model / baseline / window identity
    assert "script" not in page.tags and "link" not in page.tags
    # Each figure in the page is the PNG beside it, byte for byte: one rendering, nothing fetched.
    embedded = sorted(base64.b64decode(src.removeprefix("data:image/png;base64,")) for src in page.images)
    assert embedded == sorted((tmp_path / "out" / name).read_bytes() for name in FIGURES)
    for name in FIGURES:
        with Image.open(tmp_path / "out" / name) as img:
            img.verify()
    html = page_path.read_text(encoding="utf-8")
    assert HOSTILE.format(0) in "".join(page.text)  # the prompt reads as written...
    assert "<script>" not in html and "<img src=x" not in html  # ...and is never markup
    assert "&lt;script&gt;window.__pwned = true&lt;/script&gt;" in html


def test_a_monitor_folder_keeps_every_window_and_the_latest_at_its_root(tmp_path):
    reports = [dataclasses.replace(make_report(index=i, seed=i), window={"index": i}) for i in range(3)]
    for i, report in enumerate(reports):
        write_report_dir(report, tmp_path, [r.to_dict() for r in reports[:i]], per_window=True)
    assert sorted(p.name for p in (tmp_path / "windows").iterdir()) == ["0", "1", "2"]
    for name in ("report.html", "report.json", *FIGURES):
        assert (tmp_path / name).read_bytes() == (tmp_path / "windows" / "2" / name).read_bytes()
    assert json.loads((tmp_path / "windows" / "0" / "report.json").read_text())["window"]["index"] == 0
    assert set(p.name for p in tmp_path.iterdir()) <= set(REPORT_FOLDER_FILES)


def test_outputs_are_refused_before_any_work_in_the_options_words(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(click.BadParameter, match="--force"):
        check_output_dir(str(tmp_path / "mine"), "--report", force=False, ours=REPORT_FOLDER_FILES)
    check_output_dir(str(tmp_path / "mine"), "--report", force=True, ours=REPORT_FOLDER_FILES)
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "report.html").write_text("an earlier report")
    check_output_dir(str(tmp_path / "again"), "--report", force=False, ours=REPORT_FOLDER_FILES)
    check_output_dir(str(tmp_path / "new" / "deeper"), "--report", force=False)
    with pytest.raises(click.BadParameter, match="not a folder"):
        check_output_dir(str(tmp_path / "mine" / "notes.txt"), "--report", force=True)
    with pytest.raises(click.BadParameter, match="is a directory"):
        check_output_file(str(tmp_path / "mine"), "--out")
    with pytest.raises(click.BadParameter, match="does not exist"):
        check_output_file(str(tmp_path / "missing" / "report.json"), "--out")
    check_output_file(str(tmp_path / "mine" / "notes.txt"), "--out")  # a report file is replaced
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"  # checking writes nothing


# -- in a real browser -------------------------------------------------------------------------
_INSPECT = """(async () => {
  await Promise.all(Array.from(document.images).map(img => img.decode()));
  return {
    title: document.title,
    images: Array.from(document.images).map(img => [img.naturalWidth, img.naturalHeight]),
    tables: document.querySelectorAll("table").length,
    headings: Array.from(document.querySelectorAll("h2")).map(h => h.textContent.trim()),
    fetched: performance.getEntriesByType("resource").map(r => r.name),
    pwned: window.__pwned === true,
    text: document.body.innerText,
  };
})()"""


@pytest.fixture(scope="module")
def browser():
    executable = find_browser()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Chromium to check the report page (.ci/run installs it)")
        pytest.skip("no Chromium on this machine (apt-get install chromium); the parsed-page test still ran")
    with Browser(executable) as opened:
        yield opened


@pytest.mark.slow
def test_the_report_page_opens_in_a_browser_with_every_figure_and_table(tmp_path, browser):
    report = _hostile_report()
    seen = browser.inspect(write_report_dir(report, tmp_path, _history(3)), _INSPECT)
    sizes = []
    for name in FIGURES:
        with Image.open(tmp_path / name) as img:
            sizes.append(list(img.size))
    assert sorted(seen["images"]) == sorted(sizes)  # every figure decoded at its full size
    assert seen["tables"] >= 5
    assert {"Metrics", "Figures", "Cluster shift", "Novel clusters"} <= set(seen["headings"])
    assert seen["title"].startswith("Drift report CRITICAL")
    assert seen["fetched"] == []  # self-contained: nothing requested, not even from the disk
    assert seen["pwned"] is False  # the hostile prompt did not run...
    assert HOSTILE.format(0) in seen["text"]  # ...and reads as written


# -- from the command line, on real embeddings -------------------------------------------------
@pytest.mark.slow
def test_check_and_monitor_write_a_report_folder(tmp_path, baseline, healthy_window, drifted_window):
    rows = demo.to_records(healthy_window + drifted_window)
    rows += [{**rows[0], "id": f"hostile-{i}", "prompt": HOSTILE.format(i)} for i in range(24)]
    demo.write(rows, tmp_path / "traffic.jsonl")
    common = ["--baseline", str(baseline.path), "--device", "cpu", "--history", str(tmp_path / "history")]

    checked = CliRunner().invoke(main, ["check", str(tmp_path / "traffic.jsonl"), *common,
                                        "--report", str(tmp_path / "check")])
    assert checked.exit_code == 0, checked.output
    html = (tmp_path / "check" / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;window.__pwned" in html and "<script" not in html
    assert json.loads((tmp_path / "check" / "report.json").read_text())["n_samples"] == len(rows)

    monitored = CliRunner().invoke(main, ["monitor", str(tmp_path / "traffic.jsonl"), *common, "--window", "1d",
                                          "--report", str(tmp_path / "monitor")])
    assert monitored.exit_code == 0, monitored.output
    windows = sorted(int(p.name) for p in (tmp_path / "monitor" / "windows").iterdir())
    assert len(windows) == 2 and (tmp_path / "monitor" / "report.html").is_file()
    latest = json.loads((tmp_path / "monitor" / "report.json").read_text())
    assert latest["window"]["index"] == windows[-1]
