"""The search corpus: the documented format (Parquet/JSONL, wikimedia/wikipedia columns),
links derived with Aho-Corasick, dictd importing, the generated encyclopedia."""

from __future__ import annotations

import gzip
import json
import random
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synth.search.corpus import CorpusError, Document, read_corpus, write_corpus
from synth.search.dictd import b64_number, cross_references, read_dictd
from synth.search.encyclopedia import PATTERNS, generate_encyclopedia
from synth.search.facts import extract_facts
from synth.search.links import derive_links, in_degrees
from synth.search.text import contains_phrase, find_all, page_windows, words

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
_docs = st.lists(st.builds(
    Document, id=st.text(min_size=1, max_size=12), title=_text, text=_text, url=_text,
    links=st.none() | st.lists(_text, max_size=3).map(tuple),
    aliases=st.lists(_text, max_size=2).map(tuple)),
    max_size=6, unique_by=lambda d: d.id)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(docs=_docs, suffix=st.sampled_from([".jsonl", ".parquet"]))
def test_documents_round_trip_through_both_formats(tmp_path, docs, suffix) -> None:
    path = str(tmp_path / f"corpus{suffix}")
    write_corpus(docs, path)
    assert list(read_corpus(path)) == docs
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_wikimedia_wikipedia_parquet_reads_as_is_and_gets_links(tmp_path) -> None:
    table = pa.table({"id": ["12", "25"], "url": ["https://en.wikipedia.org/wiki/Anarchism",
                                                  "https://en.wikipedia.org/wiki/Autism"],
                      "title": ["Anarchism", "Autism"],
                      "text": ["Anarchism is a political philosophy.",
                               "Autism is studied; see also anarchism (not related)."]})
    folder = tmp_path / "20231101.en"
    folder.mkdir()
    pq.write_table(table, folder / "train-00000-of-00001.parquet")
    docs = list(read_corpus(str(folder)))
    assert [d.title for d in docs] == ["Anarchism", "Autism"] and docs[0].links is None
    linked = derive_links(docs)
    assert linked[1].links == ("12",) and linked[0].links == ()


@pytest.mark.parametrize(("rows", "message"), [
    ([{"id": "a", "title": "A"}], "missing column(s) ['text']"),
    ([{"id": "a", "title": "A", "text": None}], "row 0: column 'text' must be a string"),
    ([{"id": "a", "title": "A", "text": "x"}, {"id": "a", "title": "B", "text": "y"}],
     "row 1: duplicate id 'a'"),
    ([{"id": "a", "title": "A", "text": "x", "links": "b"}],
     "row 0: column 'links' must be a list of strings"),
    ([{"id": "", "title": "A", "text": "x"}], "row 0: column 'id' is empty"),
])
def test_bad_corpus_names_row_and_column(tmp_path, rows, message) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(CorpusError, match=re.escape(message)):
        list(read_corpus(str(path)))


def test_not_json_and_unknown_format_are_clear_errors(tmp_path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"id": "a", "title": "A", "text": "x"}\n{oops\n')
    with pytest.raises(CorpusError, match="line 2: not JSON"):
        list(read_corpus(str(path)))
    with pytest.raises(CorpusError, match="unknown corpus format"):
        list(read_corpus(str(tmp_path / "c.csv")))


def test_links_are_whole_word_mentions_in_order_never_self() -> None:
    docs = [Document("t", "Tessel Ford", "Tessel Ford lies on a river."),
            Document("q", "Quill", "The Quill runs past Tessel Ford."),
            Document("p", "Person", "Born in tessel-ford near the Quill; not Tessel Fordham."),
            Document("x", "42", "the answer 42 is not a link")]
    linked = {d.id: d.links for d in derive_links(docs)}
    assert linked == {"t": (), "q": ("t",), "p": ("t", "q"), "x": ()}
    assert in_degrees(derive_links(docs)) == {"t": 2, "q": 1}


@settings(max_examples=60, deadline=None)
@given(title=st.text("abcdefgh ", min_size=3, max_size=12).filter(lambda t: len(words(t)) > 0
                                                                  and len(t.strip()) >= 3),
       before=st.text("xyz .,", max_size=10), after=st.text("xyz .,", max_size=10))
def test_a_mentioned_title_is_linked(title, before, after) -> None:
    docs = [Document("target", title, "itself"),
            Document("source", "Source", f"{before} {title} {after}")]
    assert derive_links(docs)[1].links == ("target",)


def _dictd(tmp_path, entries: list[tuple[list[str], str]]) -> tuple[str, str]:
    """Write a dictd dictionary: each entry's headwords point to its definition."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    def b64(n: int) -> str:
        out = ""
        while True:
            out = alphabet[n % 64] + out
            n //= 64
            if not n:
                return out

    data, lines = b"", []
    header = b"00-database-short\n     A test dictionary\n"
    lines.append(f"00-database-short\t{b64(0)}\t{b64(len(header))}")
    data += header
    for names, body in entries:
        text = ("\n".join(names) + "\n\n   " + body + "\n\n").encode()
        for name in names:
            lines.append(f"{name.lower()}\t{b64(len(data))}\t{b64(len(text))}")
        data += text
    index, dz = tmp_path / "tiny.index", tmp_path / "tiny.dict.dz"
    index.write_text("\n".join(lines) + "\n")
    dz.write_bytes(gzip.compress(data))
    return str(index), str(dz)


def test_dictd_entries_aliases_and_cross_references(tmp_path) -> None:
    index, dz = _dictd(tmp_path, [
        (["Central Processing Unit", "CPU"], "<hardware> The part that runs {programs}.\n"
         "   See {Arithmetic\n   and Logic Unit} and {FOLDOC (http://foldoc.org/)}.\n"
         "   (1999-02-01)"),
        (["program"], "<programming> What a {CPU} runs; not {Nowhere}."),
        (["arithmetic and logic unit", "ALU"], "Adds numbers for the {cpu}."),
    ])
    docs = {d.title: d for d in read_dictd(index, dz)}
    cpu, prog, alu = (docs[t] for t in ("Central Processing Unit", "program",
                                        "arithmetic and logic unit"))
    assert cpu.aliases == ("CPU",) and alu.aliases == ("ALU",)
    assert cpu.links == (alu.id,), "{programs} names no headword; externals are dropped"
    assert prog.links == (cpu.id,) and alu.links == (cpu.id,)
    assert cpu.text.startswith("<hardware> The part") and cpu.url.startswith("dict://")
    assert "00-database" not in " ".join(docs)


def test_dictd_errors_name_the_line(tmp_path) -> None:
    index, dz = _dictd(tmp_path, [(["word"], "text")])
    with open(index, "a") as handle:
        handle.write("broken line without tabs\n")
    with pytest.raises(CorpusError, match=r"tiny.index: line 3: expected"):
        list(read_dictd(index, dz))


@given(st.integers(min_value=0, max_value=2**40))
def test_dictd_base64_numbers(n) -> None:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    digits = ""
    while True:
        digits = alphabet[n % 64] + digits
        if n < 64:
            break
        n //= 64
    value = 0
    for char in digits:
        value = value * 64 + alphabet.index(char)
    assert b64_number(digits) == value


def test_cross_references_collapse_whitespace_and_drop_urls() -> None:
    body = "{line\n   broken} {Text (http://x.org/)} {page (about.html)} {plain}"
    assert cross_references(body) == ["line broken", "plain"]


def test_encyclopedia_is_seeded_fictional_and_fact_rich() -> None:
    first, again = generate_encyclopedia(3, 300), generate_encyclopedia(3, 300)
    assert first == again and generate_encyclopedia(4, 300) != first
    assert len({d.id for d in first}) == len({d.title.casefold() for d in first}) == 300
    rng = random.Random(0)
    kinds = {f.kind for d in first for f in extract_facts(d.text, PATTERNS, rng)}
    assert kinds == {"phrase", "decade", "range", "link"}
    linked = derive_links(first)
    assert sum(1 for d in linked if d.links) > 200
    with pytest.raises(ValueError, match="at least 40"):
        generate_encyclopedia(0, 10)


def test_text_windows_and_whitespace_blind_find() -> None:
    text = "alpha beta\ngamma " * 400
    pages = page_windows(text, 2000)
    assert "".join(pages) == text and all(len(p) <= 2000 for p in pages)
    text = "one {buffer\n   overflow} two Buffer  Overflow"
    found = find_all(text, "buffer overflow")
    assert [at for at, _ in found] == [text.index("buffer"), text.index("Buffer")]
    assert contains_phrase("It was born in 1873.", "born in 1873")
    assert not contains_phrase("concatenate", "cat") and not contains_phrase("x", "...")
