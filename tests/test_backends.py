"""Embedding backends: an OpenAI-compatible endpoint (a real HTTP server on 127.0.0.1 serving the
bundled model), ONNX Runtime fp32 / int8, which backends a baseline accepts, and cost per window."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import wandb_records as wr
from drift_tracking import demo
from drift_tracking.cli import main
from drift_tracking.embedding import Embedder, Endpoint, EndpointError, ModelIdentity, embedder_for_baseline
from drift_tracking.embedding.endpoint import EndpointRuntime
from drift_tracking.embedding.identity import PROBE_TEXTS, probe_agreement, probe_signature
from drift_tracking.embedding.usage import EmbeddingUsage
from drift_tracking.errors import DriftTrackingError, ModelMismatchError
from embedding_server import EmbeddingServer

pytestmark = pytest.mark.slow
needs_onnx = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None,
    reason="the onnx extra is not installed (pip install -e '.[onnx]')",
)
TEXTS = ["where is my parcel", "reset my password please", "where is my parcel", "refund for order 1234",
         "how do I change my delivery address", "cancel my subscription", "the app crashes on login"]


@pytest.fixture(scope="module")
def server():
    with EmbeddingServer() as running:
        yield running


def _endpoint(server, **options) -> Endpoint:
    return Endpoint(server.url, backoff_s=0.01, **options)


def _window_requests(server, since: int) -> list[dict]:
    return [e for e in server.state.log[since:] if e["status"] == 200 and e["texts"] != list(PROBE_TEXTS)]


# -- the endpoint backend -------------------------------------------------------------
def test_endpoint_embeds_in_batches_like_the_bundled_model(server, embedder, tmp_path):
    before = len(server.state.log)
    remote = Embedder("all-MiniLM-L6-v2", endpoint=_endpoint(server), batch_size=2, cache_dir=tmp_path)
    vectors = remote.encode(TEXTS)
    np.testing.assert_allclose(vectors, embedder.encode(TEXTS), atol=1e-5)  # answers come back in reverse order
    assert [e["inputs"] for e in _window_requests(server, before)] == [2, 2, 2]  # 6 distinct texts
    identity = remote.identity
    assert (identity.backend, identity.source, identity.dimension, identity.normalized) == ("endpoint", "endpoint",
                                                                                             384, True)
    assert probe_agreement(identity.probe, embedder.identity.probe) > 0.99999
    usage = remote.usage
    assert (usage.texts, usage.embedded, usage.cache_hits) == (7, 6, 0)
    assert usage.tokens == sum(e["tokens"] for e in _window_requests(server, before)) > 0


def test_endpoint_vectors_are_cached_by_its_identity(server, tmp_path):
    Embedder("all-MiniLM-L6-v2", endpoint=_endpoint(server), cache_dir=tmp_path).encode(TEXTS)
    before = len(server.state.log)
    again = Embedder("all-MiniLM-L6-v2", endpoint=_endpoint(server), cache_dir=tmp_path)
    again.encode(TEXTS)
    assert _window_requests(server, before) == []  # only the probe was asked for
    assert (again.usage.embedded, again.usage.cache_hits, again.usage.tokens) == (0, 6, 0)


def test_429_and_5xx_are_retried_with_back_off(server, tmp_path):
    server.fail_next(429, retry_after="0")
    server.fail_next(503)
    server.fail_next(502)
    before = len(server.state.log)
    remote = Embedder("all-MiniLM-L6-v2", endpoint=_endpoint(server, max_retries=3), cache_dir=False)
    remote.encode(["my card was declined"])
    assert [e["status"] for e in server.state.log[before:]] == [429, 503, 502, 200, 200]  # probe, then the text


def test_retries_are_bounded(server):
    server.fail_next(503, times=3)
    before = len(server.state.log)
    remote = Embedder("all-MiniLM-L6-v2", endpoint=_endpoint(server, max_retries=2), cache_dir=False)
    with pytest.raises(EndpointError, match=r"answered HTTP 503: injected 503 \(gave up after 3 attempts\)"):
        remote.encode(["my card was declined"])
    assert len(server.state.log) - before == 3
    server.state.faults.clear()


def test_an_unreachable_endpoint_is_named():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    remote = Embedder("m", endpoint=Endpoint(f"http://127.0.0.1:{port}", max_retries=1, backoff_s=0), cache_dir=False)
    with pytest.raises(EndpointError, match=rf"cannot reach the embedding endpoint http://127.0.0.1:{port}/v1/"
                                            r"embeddings.*gave up after 2 attempts"):
        remote.identity


@pytest.fixture()
def keyed_server():
    with EmbeddingServer(api_key="sk-right-key") as running:
        yield running


def test_a_refused_key_is_one_line_naming_the_variables_and_not_retried(keyed_server, monkeypatch):
    monkeypatch.delenv("DRIFT_TRACKING_EMBEDDING_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for key, said in (("sk-wrong-key", "refused the API key it was sent"),
                      (None, "needs an API key and none was sent")):
        remote = Embedder("all-MiniLM-L6-v2", endpoint=_endpoint(keyed_server, api_key=key), cache_dir=False)
        with pytest.raises(EndpointError) as caught:
            remote.identity
        message = str(caught.value)
        assert said in message and "HTTP 401" in message and "DRIFT_TRACKING_EMBEDDING_API_KEY" in message
        assert "\n" not in message and "sk-wrong-key" not in message
    assert [e["status"] for e in keyed_server.state.log] == [401, 401]


@pytest.mark.parametrize("variable", ["DRIFT_TRACKING_EMBEDDING_API_KEY", "OPENAI_API_KEY"])
def test_the_key_comes_from_the_environment(keyed_server, monkeypatch, variable):
    monkeypatch.delenv("DRIFT_TRACKING_EMBEDDING_API_KEY", raising=False)
    monkeypatch.setenv(variable, "sk-right-key")
    remote = Embedder("all-MiniLM-L6-v2", endpoint=_endpoint(keyed_server), cache_dir=False)
    assert remote.encode(["hello"]).shape == (1, 384)


def test_an_unknown_model_is_refused_with_the_servers_words(server):
    remote = Embedder("text-embedding-3-small", endpoint=_endpoint(server), cache_dir=False)
    with pytest.raises(EndpointError, match="HTTP 404: The model `text-embedding-3-small` does not exist$"):
        remote.identity


def test_another_model_behind_the_same_name_is_refused(server, tmp_path):
    pinned = Embedder("all-MiniLM-L6-v2", endpoint=_endpoint(server), cache_dir=tmp_path).identity
    server.state.permutation = np.random.default_rng(0).permutation(384)
    try:
        swapped = Embedder("all-MiniLM-L6-v2", endpoint=_endpoint(server), cache_dir=tmp_path, expected=pinned)
        with pytest.raises(ModelMismatchError, match="probe sentences embed differently.*the same name"):
            swapped.identity
        unpinned = Embedder("all-MiniLM-L6-v2", endpoint=_endpoint(server), cache_dir=tmp_path).identity
        assert unpinned.fingerprint != pinned.fingerprint  # its vectors never come from the old model's cache
    finally:
        server.state.permutation = None


def test_an_endpoint_without_usage_leaves_the_money_out(tmp_path):
    with EmbeddingServer(report_usage=False) as bare:
        remote = Embedder("all-MiniLM-L6-v2", endpoint=_endpoint(bare), cache_dir=False, price_per_1k_tokens=0.02)
        remote.encode(TEXTS)
    cost = remote.cost()
    assert (cost["embedded"], cost["unmetered"], cost["tokens"], cost["amount"]) == (6, 6, 0, None)


@pytest.mark.parametrize("url, full", [
    ("http://h:8080", "http://h:8080/v1/embeddings"),
    ("http://h:8080/v1/", "http://h:8080/v1/embeddings"),
    ("https://h/openai/v1/embeddings?api-version=1", "https://h/openai/v1/embeddings?api-version=1"),
])
def test_endpoint_urls(url, full):
    assert Endpoint(url).embeddings_url == full


def test_a_bad_endpoint_url_is_refused():
    with pytest.raises(DriftTrackingError, match="must be an http\\(s\\) URL"):
        Endpoint("localhost:8080")


def test_back_off_doubles_within_bounds_and_honours_retry_after():
    runtime = EndpointRuntime("m", Endpoint("http://h", backoff_s=1.0, max_backoff_s=5.0))
    assert [0.5 <= runtime._delay(0, None) <= 1.0, 2.0 <= runtime._delay(2, None) <= 4.0] == [True, True]
    assert 2.5 <= runtime._delay(9, None) <= 5.0
    assert (runtime._delay(0, 3.0), runtime._delay(0, 60.0)) == (3.0, 5.0)


# -- probes ---------------------------------------------------------------------------------
def test_probe_agreement_tells_noise_from_quantisation_from_another_model():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((len(PROBE_TEXTS), 384))
    x /= np.linalg.norm(x, axis=1, keepdims=True)

    def moved(scale):  # unit vectors at about 1 - scale**2 / 2 cosine from x
        y = x + rng.standard_normal(x.shape) * scale / np.sqrt(384)
        return y / np.linalg.norm(y, axis=1, keepdims=True)

    base = probe_signature(x)
    assert probe_agreement(base, probe_signature(moved(0.005))) > 0.999  # fp16 noise: cosine ~0.99999
    assert probe_agreement(base, probe_signature(moved(0.11))) < 0.999  # int8: cosine ~0.994
    assert probe_agreement(base, probe_signature(x[:, ::-1])) < 0.9  # another model of the same dimension
    assert probe_agreement(base, ()) is None  # a baseline saved before probes existed


def test_identity_round_trips_with_its_probe(embedder):
    identity = embedder.identity
    assert len(identity.probe) == len(PROBE_TEXTS) * 16
    assert ModelIdentity.from_dict(json.loads(json.dumps(identity.to_dict()))) == identity


# -- which backend a baseline accepts ------------------------------------------------------
def test_a_torch_baseline_refuses_int8_before_loading_it(baseline):
    chosen = embedder_for_baseline(baseline.identity_, backend="onnx-int8", cache_dir=False)
    with pytest.raises(ModelMismatchError) as caught:
        chosen.identity
    message = str(caught.value)
    assert "sentence-transformers (PyTorch)" in message and "ONNX Runtime, dynamic int8" in message
    assert "backend: 'torch' vs 'onnx-int8'" in message


def test_usage_arithmetic_and_money():
    one = EmbeddingUsage(texts=10, embedded=8, cache_hits=2, tokens=1000, seconds=1.5)
    two = one + EmbeddingUsage(texts=4, embedded=4, tokens=500, unmetered=4)
    assert (two - one).tokens == 500 and two.texts == 14
    assert one.amount(0.02) == pytest.approx(0.02) and one.amount(None) is None
    assert two.amount(0.02) is None  # some texts were embedded without a token count


# -- acceptance: a baseline built and checked through the endpoint ---------------------------
@pytest.fixture(scope="module")
def endpoint_run(server, tmp_path_factory, mlflow_server):
    """The same data built and checked in-process and through the endpoint, the latter logged to both sinks."""
    root = tmp_path_factory.mktemp("endpoint-run")
    good = demo.write(demo.generate(400, seed=1), root / "good.jsonl")
    window = demo.write(demo.generate(200, seed=11, start="2026-02-01T00:00:00Z", novel_share=0.3),
                        root / "window.jsonl")
    common = ["--response-column", "response", "--device", "cpu"]
    remote = ["--embedding-endpoint", server.url, "--model", "all-MiniLM-L6-v2"]
    runner = CliRunner()
    out = {}
    for name, extra in (("local", []), ("endpoint", remote)):
        built = runner.invoke(main, ["baseline", "build", str(good), "--out", str(root / name), *common, *extra])
        assert built.exit_code == 0, built.output
    for name, extra in (("local", []), ("endpoint", remote)):
        sinks = [] if name == "local" else [
            "--price-per-1k-tokens", "0.02", "--mlflow", "--tracking-uri", mlflow_server, "--experiment",
            "endpoint-cost", "--wandb", "--wandb-dir", str(root / "wb")]
        before = len(server.state.log)
        checked = runner.invoke(main, ["check", str(window), "--baseline", str(root / name), "--format", "json",
                                       *common, *extra, *sinks])
        assert checked.exit_code == 0, checked.output
        out[name] = json.loads(checked.stdout)
        out[f"{name}_requests"] = _window_requests(server, before)
    out["root"], out["window"], out["common"] = root, window, common
    return out


def test_an_endpoint_baseline_checked_through_it_matches_the_in_process_report(endpoint_run):
    local, remote = endpoint_run["local"], endpoint_run["endpoint"]
    assert remote["model"]["backend"] == "endpoint" and local["model"]["backend"] == "torch"
    assert remote["tier"] == local["tier"] and remote["drift_kind"] == local["drift_kind"]
    for side in ("metrics", "response_metrics"):
        assert remote[side].keys() == local[side].keys()
        for name, value in local[side].items():
            assert remote[side][name] == pytest.approx(value, rel=1e-3, abs=1e-4), (side, name)
    assert [c["size"] for c in remote["novel_clusters"]] == [c["size"] for c in local["novel_clusters"]]
    for metric, levels in local["thresholds"]["values"].items():
        for level, value in levels.items():
            if isinstance(value, float):
                assert remote["thresholds"]["values"][metric][level] == pytest.approx(value, rel=1e-3, abs=1e-4)


def test_the_endpoint_baseline_refuses_the_in_process_int8_backend_naming_both(endpoint_run):
    run = endpoint_run
    result = CliRunner().invoke(main, ["check", str(run["window"]), "--baseline", str(run["root"] / "endpoint"),
                                       *run["common"], "--backend", "onnx-int8"])
    assert result.exit_code == 2
    message = result.output.strip().splitlines()[-1]
    assert "'all-MiniLM-L6-v2' through an OpenAI-compatible endpoint (384-d, fingerprint" in message
    assert "'all-MiniLM-L6-v2' in-process with ONNX Runtime, dynamic int8" in message
    assert "--embedding-endpoint URL --model all-MiniLM-L6-v2" in message


def test_the_endpoint_baseline_never_reads_its_address_from_the_baseline(endpoint_run):
    run = endpoint_run
    result = CliRunner().invoke(main, ["check", str(run["window"]), "--baseline", str(run["root"] / "endpoint"),
                                       *run["common"]])
    assert result.exit_code == 2
    assert "never sends prompts to an address read from a baseline: pass --embedding-endpoint URL" in result.output


def test_the_report_carries_what_the_window_cost(endpoint_run):
    cost, local = endpoint_run["endpoint"]["cost"], endpoint_run["local"]["cost"]
    requests = endpoint_run["endpoint_requests"]
    assert (cost["backend"], cost["model"], cost["texts"]) == ("endpoint", "all-MiniLM-L6-v2", 400)
    assert cost["embedded"] == sum(r["inputs"] for r in requests) and cost["unmetered"] == 0
    assert cost["tokens"] == sum(r["tokens"] for r in requests) > 0
    assert cost["amount"] == pytest.approx(cost["tokens"] / 1000 * 0.02)
    assert cost["seconds"] > 0 and cost["embedded"] + cost["cache_hits"] <= cost["texts"]
    assert (local["backend"], local["texts"], local["amount"], local["price_per_1k_tokens"]) == ("torch", 400, None,
                                                                                                 None)
    assert local["tokens"] > 0 or local["embedded"] == 0


def test_both_sinks_log_the_cost_as_metrics(endpoint_run, mlflow_server):
    from mlflow import MlflowClient

    cost = endpoint_run["endpoint"]["cost"]
    client = MlflowClient(tracking_uri=mlflow_server)
    experiment = client.get_experiment_by_name("endpoint-cost")
    (run,) = client.search_runs([experiment.experiment_id])
    for name in ("texts", "embedded", "cache_hits", "tokens", "amount"):
        assert run.data.metrics[f"drift/cost/{name}"] == pytest.approx(cost[name]), name
    (run_dir,) = sorted((endpoint_run["root"] / "wb" / "wandb").glob("offline-run-*"))
    (row,) = [h for h in wr.history(wr.finished_records(run_dir)) if "window" in h]
    for name in ("texts", "tokens", "amount", "seconds"):
        assert row[f"drift/cost/{name}"] == pytest.approx(cost[name]), name


# -- ONNX Runtime ------------------------------------------------------------------------
@needs_onnx
def test_onnx_fp32_embeds_like_torch_and_counts_the_same_tokens(embedder, healthy_window):
    texts = [s.prompt for s in healthy_window[:120]] + ["word " * 400, "Ünïcödé façade — naïve café ☕"]
    onnx = Embedder(backend="onnx", cache_dir=False)
    torch = Embedder(device="cpu", cache_dir=False)
    vectors, reference = onnx.encode(texts), torch.encode(texts)
    assert (vectors * reference).sum(1).min() > 0.99999
    assert onnx.usage.tokens == torch.usage.tokens  # the 400 words are cut at 256 tokens by both
    identity = onnx.identity
    assert (identity.backend, identity.precision, identity.weights_sha256) == (
        "onnx", "float32", embedder.identity.weights_sha256)


@needs_onnx
def test_onnx_int8_is_its_own_identity_with_other_vectors(embedder, healthy_window):
    texts = [s.prompt for s in healthy_window[:120]]
    int8 = Embedder(backend="onnx-int8", cache_dir=False)
    cosines = (int8.encode(texts) * embedder.encode(texts)).sum(1)
    assert 0.97 < cosines.mean() < 0.9999  # close, but not the same space
    identity = int8.identity
    assert (identity.backend, identity.precision) == ("onnx-int8", "int8")
    assert identity.fingerprint != Embedder(backend="onnx", cache_dir=False).identity.fingerprint
    with pytest.raises(ModelMismatchError, match="backend: 'onnx-int8' vs 'onnx'"):
        Embedder(backend="onnx", cache_dir=False).identity.check_compatible(identity)


@needs_onnx
def test_the_export_is_made_once_and_reused(monkeypatch):
    from drift_tracking.embedding import onnx_backend

    Embedder(backend="onnx-int8", cache_dir=False).identity  # exported by now (this or an earlier test)

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_backend, "_export", no_export)
    monkeypatch.setattr(onnx_backend, "_quantize", no_export)
    assert Embedder(backend="onnx-int8", cache_dir=False).identity.backend == "onnx-int8"


@needs_onnx
def test_an_export_that_embeds_differently_is_refused_by_the_probe(tmp_path):
    from drift_tracking.cache import default_cache_dir

    pinned = Embedder(backend="onnx-int8", cache_dir=False).identity
    (export,) = [p for p in (default_cache_dir() / "onnx").iterdir() if p.name.startswith(pinned.weights_sha256[:16])]
    copy = shutil.copytree(export, tmp_path / "onnx" / export.name)
    shutil.copyfile(copy / "model-fp32.onnx", copy / "model-int8.onnx")  # the int8 file replaced
    tampered = Embedder(backend="onnx-int8", cache_dir=tmp_path, expected=pinned)
    with pytest.raises(ModelMismatchError, match="probe sentences embed differently"):
        tampered.identity


@needs_onnx
def test_an_int8_baseline_is_checked_with_int8_by_default_and_refuses_fp32(tmp_path):
    good = demo.write(demo.generate(200, seed=3), tmp_path / "good.jsonl")
    window = demo.write(demo.generate(100, seed=13), tmp_path / "window.jsonl")
    runner = CliRunner()
    built = runner.invoke(main, ["baseline", "build", str(good), "--out", str(tmp_path / "b"), "--backend",
                                 "onnx-int8"])
    assert built.exit_code == 0, built.output
    checked = runner.invoke(main, ["check", str(window), "--baseline", str(tmp_path / "b"), "--format", "json"])
    assert checked.exit_code == 0, checked.output
    report = json.loads(checked.stdout)
    assert report["model"]["backend"] == report["cost"]["backend"] == "onnx-int8"
    refused = runner.invoke(main, ["check", str(window), "--baseline", str(tmp_path / "b"), "--backend", "onnx"])
    assert refused.exit_code == 2 and "backend: 'onnx-int8' vs 'onnx'" in refused.output
    assert "--backend onnx-int8" in refused.output


def test_without_the_extra_the_onnx_backend_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what an environment without the extra sees
    with pytest.raises(DriftTrackingError, match=r"pip install 'drift-tracking\[onnx\]'"):
        Embedder(backend="onnx", cache_dir=False).identity


def test_onnx_is_an_optional_extra_that_the_test_extra_installs():
    """The core never needs ONNX Runtime; CI installs '.[test]', which must pull it so the tests above run there."""
    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert {r.split(">")[0].split("=")[0] for r in extras["onnx"]} == {"onnxruntime", "onnx"}
    assert "drift-tracking[onnx]" in extras["test"]
    assert not [r for r in project["dependencies"] if r.startswith("onnx")]
