"""Chat messages as texts: the last user turn is the prompt, the assistant's answer to it the response.

Shared by chat logs (a ``messages`` column) and MLflow traces (OpenAI, Anthropic and
OpenAI Responses payloads), so both read a conversation the same way. A message is a
dict with a ``role`` and a ``content`` that is a string or a list of parts; text parts
are ``{"type": "text" | "input_text" | "output_text", "text": ...}`` (OpenAI chat and
Responses, Anthropic content blocks) or bare strings. Other parts (images, tool calls)
hold no text and are left out.
"""

from __future__ import annotations

from typing import Any

_TEXT_PARTS = frozenset({"text", "input_text", "output_text"})


def as_list(value: Any) -> list[Any] | None:
    """A Python list for list-likes (parquet gives numpy arrays), else None."""
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    if type(value).__name__ == "ndarray":
        return value.tolist()
    return None


def content_text(content: Any) -> Any:
    """A message's content as text: a string, or the joined text of a list of parts.

    Anything else is returned as is, for the caller to report (``None`` is "missing");
    a list without a text part gives ``""`` (reported as empty).

    >>> content_text([{"type": "text", "text": "Hi"}, {"type": "image_url"}, "there"])
    'Hi\\nthere'
    """
    parts = as_list(content)
    if parts is None:
        return content
    texts: list[str] = []
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type", "text") in _TEXT_PARTS and isinstance(part.get("text"), str):
            texts.append(part["text"])
    return "\n".join(texts)


def is_message_list(value: Any) -> bool:
    """Whether ``value`` looks like a conversation: a non-empty list of dicts with a ``role``."""
    messages = as_list(value)
    return bool(messages) and all(isinstance(m, dict) and "role" in m for m in messages)


def turns(messages: list[Any]) -> tuple[int | None, int | None]:
    """Positions of the last ``user`` message and of the reply to it.

    The reply is the first ``assistant`` message after that user turn, else the last
    assistant message of the conversation; None where there is none.

    >>> turns([{"role": "system"}, {"role": "user"}, {"role": "assistant"}, {"role": "user"}])
    (3, 2)
    """
    roles = [m.get("role") if isinstance(m, dict) else None for m in messages]
    users = [i for i, r in enumerate(roles) if r == "user"]
    assistants = [i for i, r in enumerate(roles) if r == "assistant"]
    last_user = users[-1] if users else None
    after = [i for i in assistants if last_user is not None and i > last_user]
    reply = after[0] if after else (assistants[-1] if assistants else None)
    return last_user, reply


def message_text(messages: list[Any], position: int | None) -> Any:
    """The text of ``messages[position]`` (None when there is no such message)."""
    if position is None:
        return None
    return content_text(messages[position].get("content"))
