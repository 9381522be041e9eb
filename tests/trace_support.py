"""Logging an application's traffic as MLflow traces, the way instrumented apps write them.

Each sample becomes one trace, in one of four payload shapes an app traced with MLflow
produces: a traced function's named argument and string result, an OpenAI chat
completion, an Anthropic message and an OpenAI Responses call. :func:`log_traffic` starts
each root span at the sample's own timestamp (so the time windows are known);
:func:`log_traced_calls` logs them live, as an instrumented app does, through
``@mlflow.trace`` and ``mlflow.start_span``.
"""

from __future__ import annotations

import math
import time
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


def log_traced_calls(samples: list[Any], *, prefix: str = "live") -> tuple[str, str]:
    """Log ``samples`` through ``@mlflow.trace`` and ``mlflow.start_span`` in a new experiment, in turn:
    a traced function of the question, a traced OpenAI-style chat call (a chat-format trace),
    an Anthropic message and an OpenAI Responses call in ``start_span`` blocks. Returns
    (experiment name, id); the experiment stays MLflow's active one.
    """
    import mlflow

    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    experiment_id = mlflow.set_experiment(name).experiment_id

    reply: list[Any] = []  # what the app answers to the call being made

    @mlflow.trace(name="support_bot")
    def answer(question: str) -> str:
        return reply.pop()

    @mlflow.trace(name="chat", span_type="CHAT_MODEL")
    def chat_completion(messages: list, model: str) -> dict:
        return reply.pop()

    for i, sample in enumerate(samples):
        shape = SHAPES[i % len(SHAPES)]
        inputs, outputs = payloads(sample.prompt, sample.response, shape)
        if shape == "function":
            reply.append(outputs)
            answer(sample.prompt)
        elif shape == "openai":
            reply.append(outputs)
            chat_completion(inputs["messages"], inputs["model"])
        else:
            with mlflow.start_span(name=f"{shape}_call", span_type="CHAT_MODEL") as span:
                span.set_inputs(inputs)
                span.set_outputs(outputs)
        time.sleep(0.003)  # a request time of its own, so the traces' order is the samples'
    mlflow.flush_trace_async_logging()
    return name, experiment_id


def same_report(actual: dict[str, Any], expected: dict[str, Any], where: str = "report") -> None:
    """Two reports (``to_dict()``) agree: every field to float tolerance, but when and where the window came from
    and what embedding cost (the second read finds the first one's vectors in the cache, and seconds vary)."""
    ignore = {"window", "created_at", "cost"} if where == "report" else set()
    if where == "report" and "cost" in expected:
        for key in ("backend", "model", "texts"):
            assert actual["cost"][key] == expected["cost"][key], f"report.cost.{key}"
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and sorted(set(actual) - ignore) == sorted(set(expected) - ignore), where
        for key in set(expected) - ignore:
            same_report(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            same_report(a, e, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert math.isclose(actual, expected, rel_tol=1e-5, abs_tol=1e-6), f"{where}: {actual} != {expected}"
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


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
