"""The report in a real browser (Debian's headless Chromium driven by Selenium), opened from
disk: filter, open a failed trajectory, read what is on the page; figures on the page equal
those recomputed from the Parquet rows; nothing is loaded from anywhere."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import small_job
from report_expectations import (
    add_future_columns,
    expected_stats,
    read_rows,
    read_samples,
    synthetic_output,
    trajectories,
)

from synth.pipeline.config import parse_config
from synth.pipeline.job import run_job
from synth.report import ReportConfig, build_report
from synth.report.conversation import mask_runs

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,1600"]
HIGHLIGHT = "rgba(198, 239, 192, 1)"  # .trained in report.css
HOSTILE = '<script>window.__pwned = 1</script><img src="x" onerror="window.__pwned = 2">'
ALL = ReportConfig(per_family=1000)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM and DRIVER):
        if os.environ.get("SYNTH_BROWSER_REQUIRED") == "1":
            pytest.fail("chromium and chromium-driver are required (apt-get install chromium "
                        "chromium-driver)")
        pytest.skip("chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    return synthetic_output(tmp_path_factory, 500, seed=9, per_file=100)


def _open(browser, html: str | Path) -> None:
    browser.get(Path(html).resolve().as_uri())


def _shown_rows(browser):
    from selenium.webdriver.common.by import By

    return [r for r in browser.find_elements(By.CSS_SELECTOR, "tr.trajectory-row")
            if r.is_displayed()]


def _text(element) -> str:
    return element.get_attribute("textContent")


def _failed_family(folder: Path) -> str:
    """A family with a failed trajectory that made tool calls."""
    per_trajectory = trajectories(read_samples(folder))
    return sorted(r["family"] for r in per_trajectory.values()
                  if not r["passed"] and r["n_tool_calls"] > 0)[0]


def test_filter_to_failed_trajectories_open_one_and_read_it(browser, synthetic, tokenizer,
                                                           tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    html = build_report(str(synthetic), str(tmp_path / "report.html"), ALL)
    _open(browser, html)
    family = _failed_family(synthetic)
    Select(browser.find_element(By.ID, "filter-family")).select_by_value(family)
    Select(browser.find_element(By.ID, "filter-outcome")).select_by_value("failed")
    rows = _shown_rows(browser)
    samples = read_samples(synthetic)
    per_trajectory = trajectories(samples)
    failed = {i for i, r in per_trajectory.items() if r["family"] == family and not r["passed"]}
    assert {r.find_element(By.CSS_SELECTOR, "a.open").text for r in rows} == failed
    assert browser.find_element(By.ID, "shown-count").text == str(len(failed))

    row = next(r for r in rows if r.get_attribute("data-task") and
               per_trajectory[r.find_element(By.CSS_SELECTOR, "a.open").text]["n_tool_calls"])
    link = row.find_element(By.CSS_SELECTOR, "a.open")
    trajectory_id = link.text
    link.click()
    article = browser.find_element(By.ID, row.get_attribute("data-target"))
    assert article.is_displayed()
    assert sum(a.is_displayed() for a in browser.find_elements(By.CSS_SELECTOR,
                                                               "article.trajectory")) == 1
    own = sorted((r for r in samples if r["trajectory_id"] == trajectory_id),
                 key=lambda r: r["turn"])
    reason = article.find_element(By.CSS_SELECTOR, ".verdict-reason")
    assert reason.is_displayed() and _text(reason).strip() == own[-1]["verdict_reason"]

    messages = json.loads(own[-1]["messages"])
    call = next(c["function"] for m in messages for c in m.get("tool_calls") or [])
    shown_call = article.find_element(By.CSS_SELECTOR, ".tool-call")
    assert shown_call.is_displayed()
    assert _text(shown_call.find_element(By.CSS_SELECTOR, ".tool-name")) == call["name"]
    assert _text(shown_call.find_element(By.CSS_SELECTOR, ".tool-args")) == json.dumps(
        json.loads(call["arguments"]), indent=2, ensure_ascii=False)

    article.find_element(By.CSS_SELECTOR, "details.tokens > summary").click()
    view = article.find_element(By.CSS_SELECTOR, "pre.token-view")
    trained = view.find_elements(By.CSS_SELECTOR, "span.trained")
    assert trained and all(span.is_displayed() for span in trained)
    assert {span.value_of_css_property("background-color") for span in trained} == {HIGHLIGHT}
    context = view.find_elements(By.CSS_SELECTOR, "span.context")
    assert HIGHLIGHT not in {span.value_of_css_property("background-color") for span in context}
    expected = [tokenizer.decode(ids) for value, ids in
                mask_runs(own[0]["input_ids"], own[0]["assistant_masks"]) if value]
    assert [_text(span) for span in trained] == expected
    browser.execute_script("arguments[0].scrollIntoView()", view)
    browser.save_screenshot(str(tmp_path / "failed-trajectory.png"))
    assert (tmp_path / "failed-trajectory.png").stat().st_size > 10_000


def test_figures_on_the_page_equal_the_parquet_rows(browser, synthetic, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    html = build_report(str(synthetic), str(tmp_path / "report.html"), ReportConfig())
    _open(browser, html)
    expected = expected_stats(synthetic)
    embedded = browser.execute_script(
        "return JSON.parse(document.getElementById('report-stats').textContent)")
    assert embedded["counts"] == expected["counts"]
    for key, value in expected["counts"].items():
        cell = browser.find_element(By.CSS_SELECTOR, f"#counts tr[data-stat='{key}'] td")
        assert cell.text == str(value)
    for family, figures in expected["families"].items():
        row = browser.find_element(By.CSS_SELECTOR, f"#families tr[data-family='{family}']")
        for column in ("tasks", "kept_tasks", "rollouts", "passed_rollouts", "trajectories",
                       "samples", "tokens", "trained_tokens"):
            cell = row.find_element(By.CSS_SELECTOR, f"td[data-col='{column}']")
            assert cell.text == str(figures.get(column, 0)), (family, column)
    images = browser.find_elements(By.CSS_SELECTOR, ".plots img")
    assert len(images) >= 6
    assert all(browser.execute_script("return arguments[0].naturalWidth", i) > 100
               for i in images), "every plot decodes"
    assert browser.execute_script(
        "return performance.getEntriesByType('resource').length") == 0
    assert browser.execute_script(
        "return document.querySelectorAll('script[src], link[href], iframe').length") == 0


def test_text_from_the_data_is_shown_never_run(browser, synthetic, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    folder = tmp_path / "hostile"
    shutil.copytree(synthetic, folder)
    path = sorted((folder / "data").glob("*.parquet"))[0]
    table = pq.read_table(path)
    index = table.schema.get_field_index("verdict_reason")
    table = table.set_column(index, "verdict_reason",
                             pa.array([HOSTILE] * table.num_rows, pa.string()))
    pq.write_table(table, path)
    _open(browser, build_report(str(folder), str(tmp_path / "report.html"), ALL))
    target = table.column("trajectory_id")[0].as_py()
    browser.find_element(By.LINK_TEXT, target).click()
    article = browser.find_element(By.CSS_SELECTOR, f"article[data-trajectory='{target}']")
    assert _text(article.find_element(By.CSS_SELECTOR, ".verdict-reason")).strip() == HOSTILE
    assert browser.execute_script("return window.__pwned === undefined")


def test_developer_messages_and_context_resets(browser, synthetic, tmp_path) -> None:
    from selenium.webdriver.common.by import By

    folder = tmp_path / "future"
    shutil.copytree(synthetic, folder)
    add_future_columns(folder, synthesized_family="bank")
    expected = expected_stats(folder)
    _open(browser, build_report(str(folder), str(tmp_path / "report.html"), ReportConfig()))
    resets = browser.find_element(By.ID, "context-resets")
    assert resets.text.startswith(f"{expected['context_resets']['total']} resets in "
                                  f"{expected['context_resets']['trajectories_with_resets']} of")
    rows = browser.find_elements(By.CSS_SELECTOR, "#environments tbody tr")
    assert {r.find_elements(By.TAG_NAME, "td")[1].text for r in rows} == {"env-0", "env-1"}
    browser.find_element(By.CSS_SELECTOR, "a.open").click()
    developer = browser.find_element(By.CSS_SELECTOR, "article:target .message.developer")
    assert developer.is_displayed() and "older than the reset" in developer.text
    assert browser.find_element(By.ID, "plot-context_resets").is_displayed()


def test_report_of_a_real_job_shows_its_failures_and_reasons(browser, ray_session,
                                                             tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    out = tmp_path / "out"
    run_job(parse_config(small_job(str(out), families=["retail"], tasks=4)))
    html = build_report(str(out))  # default place: inside the dataset folder
    assert Path(html) == out / "report.html"
    _open(browser, html)
    notice = browser.find_element(By.ID, "stand-in-notice")
    assert notice.is_displayed() and "not for training" in notice.text
    Select(browser.find_element(By.ID, "filter-outcome")).select_by_value("failed")
    _shown_rows(browser)[0].find_element(By.CSS_SELECTOR, "a.open").click()
    reason = browser.find_element(By.CSS_SELECTOR, "article:target .verdict-reason")
    article = browser.find_element(By.CSS_SELECTOR, "article:target")
    row = trajectories(read_samples(out))[article.get_attribute("data-trajectory")]
    assert not row["passed"] and row["verdict_reason"] and row["verdict_reason"] in reason.text
    task_id = row["task_id"]
    task = next(t for t in read_rows(out, "tasks") if t["task_id"] == task_id)
    user = article.find_element(By.CSS_SELECTOR, ".message.user pre.content")
    assert user.is_displayed() and _text(user) == task["user_turns"][0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_report_of_an_object_store_output(browser, synthetic, tmp_path) -> None:
    import boto3
    from moto.server import ThreadedMotoServer
    from pyarrow import fs

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="reports")
        uri = (f"s3://test:test@reports/runs/one?endpoint_override=127.0.0.1:{port}"
               "&scheme=http&region=us-east-1")
        store, root = fs.FileSystem.from_uri(uri)
        fs.copy_files(str(synthetic), root, destination_filesystem=store)
        written = build_report(uri)
        assert written.startswith("s3://test:test@reports/runs/one/report.html?")
        local = tmp_path / "from-store.html"
        local.write_bytes(s3.get_object(Bucket="reports", Key="runs/one/report.html")
                          ["Body"].read())
    finally:
        server.stop()
    _open(browser, local)
    embedded = browser.execute_script(
        "return JSON.parse(document.getElementById('report-stats').textContent)")
    assert embedded["counts"] == expected_stats(synthetic)["counts"]
    assert embedded["source"] == "s3://reports/runs/one", "no credentials, no query"
