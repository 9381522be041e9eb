"""Reading production logs: formats, chat logs, invalid rows and every user-facing error."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from drift_tracking import demo
from drift_tracking.data import InvalidRow, TextData, load_texts, read_table
from drift_tracking.errors import DataError


@pytest.fixture(scope="module")
def traffic():
    return demo.generate(60, seed=21, novel_share=0.2)


# -- formats ---------------------------------------------------------------------------------
@pytest.mark.parametrize("ext", ["jsonl", "ndjson", "json", "csv", "parquet"])
def test_round_trip_every_format(tmp_path, traffic, ext):
    path = demo.write(traffic, tmp_path / f"traffic.{ext}")
    data = load_texts(path, text_column="prompt", response_column="response",
                      timestamp_column="timestamp", id_column="id")
    assert isinstance(data, TextData)
    assert len(data) == data.n_rows == 60 and data.n_invalid == 0 and data.invalid == []
    assert data.prompts == [s.prompt for s in traffic]
    assert data.responses == [s.response for s in traffic]
    assert data.timestamps == [s.timestamp for s in traffic]
    assert data.ids == [s.id for s in traffic]
    assert data.row_ids == list(range(60))
    table = read_table(str(path))
    assert {"id", "prompt", "response", "topic", "novel", "timestamp"} <= set(table.columns)


def test_json_lines_in_a_json_file_and_blank_lines(tmp_path):
    path = tmp_path / "lines.json"
    path.write_text('{"prompt": "first question here"}\n\n{"prompt": "second question here"}\n')
    assert load_texts(path).prompts == ["first question here", "second question here"]


def test_dataframe_and_records_sources(traffic):
    frame = demo.to_frame(traffic)
    assert read_table(frame) is frame
    assert load_texts(frame).prompts == [s.prompt for s in traffic]
    data = load_texts(demo.to_records(traffic), response_column="response")
    assert data.responses == [s.response for s in traffic] and data.timestamps is None and data.ids is None


def test_prompts_only_by_default(traffic):
    assert load_texts(demo.to_frame(traffic)).responses is None


# -- chat logs -------------------------------------------------------------------------------
CHATS = [
    {"messages": [
        {"role": "system", "content": "You are a helpful support bot."},
        {"role": "user", "content": "Where is my order?"},
        {"role": "assistant", "content": "It ships tomorrow."},
        {"role": "user", "content": "Can I change the address?"},
        {"role": "assistant", "content": "Yes, under Orders > Edit delivery."},
        {"role": "user", "content": "Thanks!"},  # last user turn, no reply after it
    ]},
    {"messages": [
        {"role": "user", "content": [{"type": "text", "text": "What is in this picture?"},
                                     {"type": "image_url", "image_url": {"url": "http://x/y.png"}},
                                     {"type": "text", "text": "Please be brief."}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A red bicycle."}]},
    ]},
    {"messages": [{"role": "system", "content": "hi"}, {"role": "assistant", "content": "How can I help?"}]},
    {"messages": [{"role": "user", "content": "How do I reset my password?"},
                  {"role": "assistant", "content": "Use the Forgot password link."},
                  {"role": "user", "content": "It says the link expired, what now?"},
                  {"role": "assistant", "content": "Request a new one; links last 24 hours."}]},
]


def test_chat_logs_last_user_turn_and_assistant_reply():
    data = load_texts(CHATS, text_column="messages")
    assert data.prompts == [
        "Thanks!",
        "What is in this picture?\nPlease be brief.",
        "It says the link expired, what now?",
    ]
    assert data.responses == [
        "Yes, under Orders > Edit delivery.",  # no reply after the last user turn: last assistant message
        "A red bicycle.",
        "Request a new one; links last 24 hours.",
    ]
    assert data.row_ids == [0, 1, 3]
    assert data.invalid == [InvalidRow(2, "messages", "no user message")]


def test_chat_detected_from_list_values_under_another_name():
    rows = [{"conversation": c["messages"]} for c in CHATS]
    data = load_texts(rows, text_column="conversation")
    assert data.prompts[0] == "Thanks!" and data.responses is not None and data.n_invalid == 1


@pytest.mark.parametrize("ext", ["jsonl", "parquet", "csv"])
def test_chat_logs_from_files(tmp_path, ext):
    # parquet needs one type per column: string contents only
    chats = [{"messages": [{"role": "user", "content": f"question number {i}"},
                           {"role": "assistant", "content": f"answer number {i}"}]} for i in range(5)]
    chats.append({"messages": [{"role": "system", "content": "no user here"}]})
    path = demo.write(chats, tmp_path / f"chat.{ext}")
    data = load_texts(path, text_column="messages")
    assert data.prompts == [f"question number {i}" for i in range(5)]
    assert data.responses == [f"answer number {i}" for i in range(5)]
    assert data.invalid == [InvalidRow(5, "messages", "no user message")]


def test_chat_invalid_contents_and_explicit_response_column():
    rows = [
        {"messages": [{"role": "user", "content": "   "}], "reply": "a"},
        {"messages": [{"role": "user", "content": "fine question"}], "reply": "fine answer"},
        {"messages": None, "reply": "b"},
        {"messages": "not json", "reply": "c"},
        {"messages": [{"role": "user", "content": "another question"}], "reply": ""},
    ]
    data = load_texts(rows, text_column="messages", response_column="reply")
    assert data.prompts == ["fine question"] and data.responses == ["fine answer"] and data.row_ids == [1]
    assert data.invalid == [
        InvalidRow(0, "messages", "whitespace-only"),
        InvalidRow(2, "messages", "missing"),
        InvalidRow(3, "messages", "not a message list"),
        InvalidRow(4, "reply", "empty"),
    ]


def test_chat_row_without_assistant_reply_is_reported():
    rows = [{"messages": [{"role": "user", "content": "q one"}, {"role": "assistant", "content": "a one"}]},
            {"messages": [{"role": "user", "content": "q two, still waiting"}]}]
    data = load_texts(rows, text_column="messages")
    assert data.prompts == ["q one"] and data.responses == ["a one"]
    assert data.invalid == [InvalidRow(1, "messages:assistant", "no assistant message")]
    # a log with no assistant turns at all is prompts only
    only_users = load_texts([{"messages": [{"role": "user", "content": "q"}]}], text_column="messages")
    assert only_users.prompts == ["q"] and only_users.responses is None


# -- invalid rows ----------------------------------------------------------------------------
def test_invalid_rows_reported_with_row_numbers_and_alignment():
    rows = [
        {"prompt": "valid one", "response": "r0"},
        {"prompt": "", "response": "r1"},
        {"prompt": "   \n\t", "response": "r2"},
        {"prompt": float("nan"), "response": "r3"},
        {"prompt": 42, "response": "r4"},
        {"prompt": None, "response": "r5"},
        {"prompt": "valid six", "response": "r6"},
        {"prompt": "valid seven", "response": None},
        {"prompt": "valid eight", "response": ""},
        {"prompt": ["a", "list"], "response": "r9"},
        {"prompt": True, "response": 3.5},
        {"prompt": "valid eleven", "response": "r11"},
    ]
    data = load_texts(rows, response_column="response")
    assert data.prompts == ["valid one", "valid six", "valid eleven"]
    assert data.responses == ["r0", "r6", "r11"]
    assert data.row_ids == [0, 6, 11]
    assert data.n_rows == 12 and len(data) == 3
    assert data.invalid == [
        InvalidRow(1, "prompt", "empty"),
        InvalidRow(2, "prompt", "whitespace-only"),
        InvalidRow(3, "prompt", "NaN"),
        InvalidRow(4, "prompt", "not a string"),
        InvalidRow(5, "prompt", "missing"),
        InvalidRow(7, "response", "missing"),
        InvalidRow(8, "response", "empty"),
        InvalidRow(9, "prompt", "not a string"),
        InvalidRow(10, "prompt", "not a string"),
        InvalidRow(10, "response", "not a string"),
    ]
    assert data.n_invalid == 9  # row 10 counts once
    summary = data.invalid_summary()
    assert json.loads(json.dumps(summary)) == summary
    assert summary["n_invalid_rows"] == 9
    assert summary["by_reason"] == {"not a string": 4, "empty": 2, "missing": 2, "whitespace-only": 1, "NaN": 1}
    assert summary["first_rows"] == [1, 2, 3, 4, 5, 7, 8, 9, 10]


def test_nan_from_dataframes_and_csv_empty_fields(tmp_path):
    frame = pd.DataFrame({"prompt": ["ok text", np.nan, pd.NA, "more text"], "n": [1, 2, 3, 4]})
    data = load_texts(frame)
    assert data.prompts == ["ok text", "more text"] and data.row_ids == [0, 3]
    assert [r.reason for r in data.invalid] == ["NaN", "NaN"]
    csv = tmp_path / "gaps.csv"
    csv.write_text('prompt,response\nhello there,hi\n,orphan\n"  ",blank\nbye now,\n')
    data = load_texts(csv, response_column="response")
    assert data.prompts == ["hello there"] and data.responses == ["hi"]
    assert data.invalid == [InvalidRow(1, "prompt", "empty"), InvalidRow(2, "prompt", "whitespace-only"),
                            InvalidRow(3, "response", "empty")]


def test_absent_key_is_missing():
    data = load_texts([{"prompt": "here it is", "response": "r"}, {"response": "no prompt key"}], response_column="response")
    assert data.invalid == [InvalidRow(1, "prompt", "missing")]


def test_first_rows_capped_at_20():
    rows = [{"prompt": ""} for _ in range(30)] + [{"prompt": "one good row"}]
    summary = load_texts(rows).invalid_summary()
    assert summary["first_rows"] == list(range(20)) and summary["n_invalid_rows"] == 30


def test_drop_invalid_false_raises():
    with pytest.raises(DataError, match=r"1 of 2 rows .* row 1 \(prompt: empty\)"):
        load_texts([{"prompt": "fine"}, {"prompt": ""}], drop_invalid=False)
    assert len(load_texts([{"prompt": "fine"}], drop_invalid=False)) == 1


# -- errors ----------------------------------------------------------------------------------
def test_unknown_format(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("hello")
    with pytest.raises(DataError, match=r"unsupported file format '\.txt'.*\.jsonl, \.ndjson, \.json, \.csv, \.parquet"):
        load_texts(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"not found"):
        load_texts(tmp_path / "nope.jsonl")


def test_malformed_json_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "fine"}\n{"prompt": "broken"\n{"prompt": "fine"}\n')
    with pytest.raises(DataError, match=r"malformed JSON on line 2 of"):
        load_texts(path)
    path.write_text('{"prompt": "fine"}\n[1, 2]\n')
    with pytest.raises(DataError, match=r"line 2 .* not an object"):
        load_texts(path)
    bad_array = tmp_path / "bad.json"
    bad_array.write_text('[\n{"prompt": "a"},\n{"prompt": }\n]')
    with pytest.raises(DataError, match=r"malformed JSON .* line 3"):
        load_texts(bad_array)


def test_wrong_column_lists_available_ones(traffic):
    with pytest.raises(DataError, match=r"column 'text' not found in the DataFrame; "
                                        r"available columns: id, prompt, response, topic, novel, timestamp"):
        load_texts(demo.to_frame(traffic), text_column="text")
    with pytest.raises(DataError, match=r"column 'answer' not found .* available columns: id, prompt"):
        load_texts(demo.to_frame(traffic), response_column="answer")
    with pytest.raises(DataError, match=r"text_column='messages'"):
        load_texts(CHATS)  # default text_column='prompt' on a chat log


def test_wrong_column_names_the_file(tmp_path, traffic):
    path = demo.write(traffic, tmp_path / "t.csv")
    with pytest.raises(DataError, match=rf"column 'body' not found in '{path}'"):
        load_texts(path, text_column="body")


def test_all_invalid():
    rows = [{"prompt": ""}, {"prompt": math.nan}, {"prompt": ""}]
    with pytest.raises(DataError, match=r"all 3 rows of column 'prompt' are invalid: 2 empty, 1 NaN"):
        load_texts(rows)
    with pytest.raises(DataError, match=r"all 2 rows are invalid \(column 'prompt': 1 empty; column 'response': 1 missing\)"):
        load_texts([{"prompt": "", "response": "x"}, {"prompt": "y", "response": None}], response_column="response")
    with pytest.raises(DataError, match=r"all 1 rows of column 'messages' are invalid: 1 no user message"):
        load_texts([{"messages": [{"role": "system", "content": "s"}]}], text_column="messages")


def test_empty_tables(tmp_path):
    with pytest.raises(DataError, match="has no rows"):
        load_texts(pd.DataFrame({"prompt": []}))
    with pytest.raises(DataError, match="has no rows"):
        load_texts([])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(DataError, match=r"'.*empty\.jsonl' has no rows"):
        load_texts(empty)
    header_only = tmp_path / "h.csv"
    header_only.write_text("prompt,response\n")
    with pytest.raises(DataError, match="has no rows"):
        load_texts(header_only)


def test_bad_sources():
    with pytest.raises(DataError, match="cannot read data from a int"):
        read_table(42)
    with pytest.raises(DataError, match="record 1 of the records is a str"):
        read_table([{"prompt": "a"}, "b"])


def test_timestamps_normalised_to_utc():
    rows = [{"prompt": "a b c", "t": "2026-01-01T01:00:00+01:00"},
            {"prompt": "d e f", "t": None},
            {"prompt": "g h i", "t": pd.Timestamp("2026-01-02 03:04:05")},
            {"prompt": "j k l", "t": "not a time"}]
    data = load_texts(rows, timestamp_column="t")
    assert data.timestamps == ["2026-01-01T00:00:00Z", None, "2026-01-02T03:04:05Z", None]


def test_data_error_is_a_value_error():
    with pytest.raises(ValueError):
        load_texts([{"prompt": ""}])


def test_50k_rows_keep_order_and_timestamps():
    frame = demo.to_frame(demo.generate(50_000, seed=3))
    data = load_texts(frame, response_column="response", timestamp_column="timestamp", id_column="id")
    assert len(data) == 50_000 and data.n_invalid == 0
    assert data.prompts[-1] == frame["prompt"].iloc[-1] and data.ids[12_345] == frame["id"].iloc[12_345]
    assert data.timestamps[0] == "2026-01-01T00:00:00Z"
