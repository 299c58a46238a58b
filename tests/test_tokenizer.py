"""The V3.2 tokenizer: model-card ids, identity with raw `tokenizers`, cache, sources."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from synth.tokenizer import DEFAULT_SHA256, default_tokenizer_path, load_tokenizer

SPECIALS = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>",
            "<think>", "</think>", "<｜place▁holder▁no▁5｜>", "<|EOT|>"]


def test_model_card_ids(tokenizer) -> None:
    example = json.loads((FIXTURES / "dsv32" / "seed_example.json").read_text())
    ids = tokenizer.encode(example["expected_prompt"])
    assert ids == example["expected_input_ids"] and len(ids) == 21
    assert tokenizer.decode(ids) == example["expected_prompt"]
    for token, expected in (("<think>", 128798), ("</think>", 128799), ("<｜User｜>", 128803),
                            ("<｜Assistant｜>", 128804), ("<｜begin▁of▁sentence｜>", 0),
                            ("<｜end▁of▁sentence｜>", 1)):
        assert tokenizer.token_id(token) == expected
    assert tokenizer.vocab_size == 128815


def test_default_file_is_checked_by_sha256(tokenizer) -> None:
    assert tokenizer.sha256 == DEFAULT_SHA256
    assert default_tokenizer_path().name == "tokenizer.json"


def test_fixture_conversation_matches_raw_tokenizers(tokenizer) -> None:
    text = (FIXTURES / "dsv32" / "test_output.txt").read_text().rstrip("\n")
    raw = tokenizer.hf.encode(text, add_special_tokens=False).ids
    assert tokenizer.encode(text) == raw
    assert tokenizer.encode(text) == raw  # the second time from the segment cache
    assert tokenizer.cache_hits > 0
    assert tokenizer.encode_many([text, text[:500]]) == [
        raw, tokenizer.hf.encode(text[:500], add_special_tokens=False).ids]


pieces = st.one_of(st.sampled_from(SPECIALS), st.text(max_size=40),
                   st.sampled_from(["｜DSML｜", "\n\n", " 123 ", "{\"a\": 1}", "中文字符", "  "]))


@settings(max_examples=150, deadline=None)
@given(st.lists(pieces, max_size=12))
def test_segmented_encoding_equals_raw(tokenizer, parts) -> None:
    text = "".join(parts)
    raw = tokenizer.hf.encode(text, add_special_tokens=False).ids
    assert tokenizer.encode(text) == raw
    assert tokenizer.encode_many([text]) == [raw]
    assert tokenizer.decode(raw) == text


def test_local_file_and_folder_sources(tmp_path, tokenizer) -> None:
    shutil.copy(default_tokenizer_path(), tmp_path / "tokenizer.json")
    from_file = load_tokenizer(tmp_path / "tokenizer.json")
    from_folder = load_tokenizer(str(tmp_path))
    assert from_file.sha256 == from_folder.sha256 == DEFAULT_SHA256
    assert from_folder.encode("hello <think>") == tokenizer.encode("hello <think>")
    with pytest.raises(FileNotFoundError):
        load_tokenizer(tmp_path / "missing" / "tokenizer.json")
