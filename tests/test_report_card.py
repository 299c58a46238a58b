"""What the dataset card takes from the report: PNG plots, the stand-in notice, the
difficulty mix and an example row that stays valid JSON inside its markdown fence."""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from report_expectations import expected_stats, synthetic_output

from synth.report import (
    STAND_IN_NOTICE,
    DatasetSource,
    card_sections,
    compute_stats,
    format_example_row,
    read_example_row,
    render_plots,
)
from synth.report.plots import PLOTS


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return synthetic_output(tmp_path_factory, 300, seed=2, per_file=100)


def _fenced(text: str) -> tuple[str, str]:
    lines = text.split("\n")
    fence = lines[0].removesuffix("json")
    assert set(fence) == {"`"} and len(fence) >= 3 and lines[-1] == fence
    body = lines[1:-1]
    assert not any(line.startswith(fence) for line in body), "the data cannot close the fence"
    return fence, "\n".join(body)


ROWS = st.dictionaries(
    st.text(min_size=1, max_size=10),
    st.text() | st.integers() | st.floats(allow_nan=False) | st.booleans() | st.none()
    | st.lists(st.integers(), max_size=40), max_size=8)


@settings(max_examples=300, deadline=None)
@given(ROWS)
def test_example_row_is_valid_json_in_a_fence_that_holds(row) -> None:
    _, body = _fenced(format_example_row(row, max_items=5, max_chars=20))
    shown = json.loads(body)
    assert list(shown) == list(row)
    for key, value in row.items():
        if isinstance(value, list) and len(value) > 5:
            assert shown[key] == [*value[:5], f"... {len(value) - 5} more"]
        elif isinstance(value, str) and len(value) > 20:
            assert shown[key].startswith(value[:20]) and f"({len(value)} characters)" in \
                shown[key]
        else:
            assert shown[key] == value


def test_example_row_is_the_first_sample_row(synthetic) -> None:
    first = sorted((synthetic / "data").glob("*.parquet"))[0]
    assert read_example_row(DatasetSource(str(synthetic))) == pq.read_table(first).slice(
        0, 1).to_pylist()[0]
    assert read_example_row(DatasetSource(str(synthetic / "missing"))) is None


def test_plots_are_png_files_the_card_links(synthetic, tmp_path) -> None:
    stats = compute_stats(DatasetSource(str(synthetic)))
    paths = render_plots(stats, tmp_path / "plots")
    assert {p.stem for p in paths} <= set(PLOTS) and len(paths) >= 6
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size[0] >= 400
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == sorted(p.name for p in paths)
    sections = card_sections(stats, read_example_row(DatasetSource(str(synthetic))),
                             [p.name for p in paths])
    for path in paths:
        assert f"](plots/{path.name})" in sections["plots"]
    assert sections["notice"] == STAND_IN_NOTICE
    expected = expected_stats(synthetic)
    for (family, level), cell in expected["cells"].items():
        row = next(line for line in sections["difficulty_mix"].splitlines()
                   if line.startswith(f"| {family} |"))
        columns = [c.strip() for c in row.strip("|").split("|")]
        levels = stats["pass_rate_grid"]["difficulties"]
        assert columns[1 + levels.index(level)] == str(cell["tasks"])
    assert json.loads(_fenced(sections["example"])[1])["sample_id"]


def test_no_notice_when_a_model_made_the_data(synthetic, tmp_path) -> None:
    folder = tmp_path / "out"
    shutil.copytree(synthetic, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["config"]["policy"] = {"kind": "openai", "model": "deepseek-ai/DeepSeek-V3.2"}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    stats = compute_stats(DatasetSource(str(folder)))
    assert stats["stand_in"] is False
    assert card_sections(stats, None, [])["notice"] == ""
