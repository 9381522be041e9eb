"""TOML configuration <-> Python objects, and errors that name the offending key."""

from __future__ import annotations

import re

import pytest

from drift_tracking import config as config_module
from drift_tracking.config import Config, load_config
from drift_tracking.errors import ConfigError
from drift_tracking.policy import Level

FULL = """
[thresholds]
mode = "fixed"
[thresholds.levels.js_divergence]
review = 0.02
critical = 0.04

[persistence]
windows = 3

[quality]
review_drop = 0.05
critical_drop = 0.15
material_drop = 0.10

[golden]
path = "golden.jsonl"
method = "exact"
baseline_accuracy = 0.92

[reward]
column = "reward"
baseline_mean = 0.81

[feedback]
path = "flags.csv"
baseline_rate = 0.03

[retrain]
novel_share = 0.25
horizon = 4

[monitor]
window = "7d"
min_window = 50
history = "hist"
"""


def _write(tmp_path, text: str):
    path = tmp_path / "drift.toml"
    path.write_text(text)
    return path


def test_a_full_file_becomes_objects_and_a_policy(tmp_path):
    config = load_config(_write(tmp_path, FULL))
    assert config.thresholds.mode == "fixed"
    assert config.policy().levels["js_divergence"] == Level(0.02, 0.04)
    assert config.golden.path == str(tmp_path / "golden.jsonl")  # relative to the file
    assert config.monitor.history == str(tmp_path / "hist")
    assert (config.reward.column, config.reward.baseline_mean) == ("reward", 0.81)
    policy = config.policy()
    assert policy.persistence == 3 and policy.retrain.horizon == 4 and policy.mode == "fixed"
    assert policy.levels["js_divergence"].critical == 0.04


def test_the_module_docstring_example_is_valid(tmp_path):
    example = config_module.__doc__.split("::", 1)[1].split("Unknown keys", 1)[0]
    example = "\n".join(line[4:] for line in example.splitlines())
    config = load_config(_write(tmp_path, example))
    assert config.persistence.windows == 2 and config.golden.method == "normalised"


def test_empty_config_is_the_default(tmp_path):
    assert load_config(_write(tmp_path, "")) == Config()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[thresholds]\nmod = 'fixed'", "thresholds.mod"),
        ("[golden]\npth = 'x'", "golden.pth"),
        ("[alerts]\nx = 1", "alerts"),
        ("[thresholds.levels.js_divergence]\nreview = -0.1\ncritical = 0.2", "thresholds.levels.js_divergence.review"),
        ("[thresholds.levels.js_divergence]\nreview = 0.3\ncritical = 0.2", "thresholds.levels.js_divergence.review"),
        ("[thresholds.levels.js_divergence]\nreview = 0.1", "thresholds.levels.js_divergence.critical"),
        ("[thresholds.levels.jsd]\nreview = 0.1\ncritical = 0.2", "thresholds.levels.jsd"),
        ("[thresholds.levels.js_divergence]\nreview = 0.1\ncritical = 0.2\nwarn = 0.3", "thresholds.levels.js_divergence.warn"),
        ("[thresholds]\nmode = 'adaptive'", "thresholds.mode"),
        ("[quality]\nreview_drop = 0.2\ncritical_drop = 0.1", "quality.review_drop"),
        ("[quality]\ncritical_drop = -1", "quality.critical_drop"),
        ("[persistence]\nwindows = 0", "persistence.windows"),
        ("[persistence]\nwindows = 'two'", "persistence.windows"),
        ("[retrain]\nnovel_share = 1.5", "retrain.novel_share"),
        ("[golden]\nmethod = 'fuzzy'", "golden.method"),
        ("[golden]\nbaseline_accuracy = 92", "golden.baseline_accuracy"),
        ("[monitor]\nwindow = 'weekly'", "monitor.window"),
        ("[monitor]\nmin_window = 5", "monitor.min_window"),
    ],
)
def test_bad_values_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError, match=re.escape(key)):
        load_config(_write(tmp_path, text))


def test_invalid_toml_and_missing_file_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "[thresholds\nmode = 1"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_cli_reports_a_bad_config_key_in_one_line(tmp_path):
    from click.testing import CliRunner

    from drift_tracking.cli import main

    path = _write(tmp_path, "[thresholds.levels.js_divergence]\nreview = 0.5\ncritical = 0.2\n")
    data = tmp_path / "w.jsonl"
    data.write_text('{"prompt": "hi"}\n')
    result = CliRunner().invoke(main, ["check", str(data), "--baseline", str(tmp_path / "nope"), "--config", str(path)])
    assert result.exit_code == 2
    assert "thresholds.levels.js_divergence.review" in result.output
    assert len(result.output.strip().splitlines()) == 1
