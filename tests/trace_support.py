"""Logging an application's traffic as MLflow traces, the way instrumented apps write them.

Each sample becomes one trace whose root span starts at the sample's own timestamp (so
the order of traces and the time windows are known), in one of four payload shapes an
app traced with MLflow produces: a traced function's named argument and string result,
an OpenAI chat completion, an Anthropic message and an OpenAI Responses call.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest

SHAPES = ("function", "openai", "anthropic", "responses")


def payloads(prompt: str, response: str, shape: str) -> tuple[dict[str, Any], Any]:
    """(root span inputs, outputs) of one call in ``shape``."""
    if shape == "function":
        return {"question": prompt}, response
    if shape == "openai":
        return ({"model": "support-ft", "messages": [{"role": "system", "content": "You are a support agent."},
                                                     {"role": "user", "content": prompt}]},
                {"id": "chatcmpl-1", "object": "chat.completion",
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": response}}]})
    if shape == "anthropic":
        return ({"model": "support-ft", "system": "You are a support agent.", "max_tokens": 512,
                 "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}]},
                {"id": "msg_1", "type": "message", "role": "assistant",
                 "content": [{"type": "text", "text": response}], "stop_reason": "end_turn"})
    return ({"model": "support-ft", "input": [{"role": "user", "content": [{"type": "input_text", "text": prompt}]}]},
            {"id": "resp_1", "object": "response",
             "output": [{"type": "reasoning", "summary": []},
                        {"type": "message", "role": "assistant",
                         "content": [{"type": "output_text", "text": response}]}]})


def _ns(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1_000_000_000)


def log_traffic(samples: list[Any], *, prefix: str = "app") -> tuple[str, str]:
    """Log ``samples`` as traces in a new experiment; returns (experiment name, id).

    The tracking URI must already point at the server. Traces are flushed before returning.
    """
    import mlflow

    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    experiment_id = mlflow.create_experiment(name)
    for i, sample in enumerate(samples):
        inputs, outputs = payloads(sample.prompt, sample.response, SHAPES[i % len(SHAPES)])
        start = _ns(sample.timestamp)
        span = mlflow.start_span_no_context("support_bot", span_type="CHAT_MODEL", inputs=inputs,
                                            experiment_id=experiment_id, start_time_ns=start,
                                            tags={"half": "first" if i < len(samples) // 2 else "second"})
        span.set_outputs(outputs)
        span.end(end_time_ns=start + 250_000_000)
    mlflow.flush_trace_async_logging()
    return name, experiment_id


def write_jsonl(samples: list[Any], path: Any) -> Any:
    """The same prompts and responses as a JSON-lines file (what the traces must match)."""
    from drift_tracking import demo

    return demo.write([{"prompt": s.prompt, "response": s.response, "timestamp": s.timestamp} for s in samples], path)


@pytest.fixture(scope="module")
def server(mlflow_server):
    """The session server as MLflow's global tracking URI (where traced code logs), restored afterwards."""
    import mlflow

    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_server)
    yield mlflow_server
    mlflow.set_tracking_uri(before)
