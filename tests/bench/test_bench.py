"""The benchmark commands at a tiny scale, on the backend under test, so they
cannot rot: each runs end to end and writes JSON whose figures add up. Speed
is measured by the commands themselves, never asserted here."""

import json
from pathlib import Path

import pytest

from bench import catalogue, month_end
from tests.conftest import backend


def _only_result(directory: Path, name: str) -> dict:
    (path,) = directory.glob(f"{name}-*.json")
    return json.loads(path.read_text(encoding="utf-8"))


def test_month_end_settles_exactly_the_billable_orders_it_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    month_end.run(backend(), orders=500, providers=3, results_dir=tmp_path)
    result = _only_result(tmp_path, "month_end")
    assert result["benchmark"] == "month_end" and result["database"] == backend()
    assert result["orders"] == 500 and result["providers"] == 3
    assert result["billable_orders"] == 460  # 92 of every 100 orders end billable
    assert result["linked_billable"] == result["billable_orders"]
    assert result["statements"] == 3
    assert result["total_ore"] > 0
    for field in (
        "seed_seconds",
        "settle_seconds",
        "rerun_seconds",
        "raw_seconds",
        "raw_links_real_table_seconds",
    ):
        assert result[field] > 0
    assert result["ratio_to_raw"] == pytest.approx(
        result["settle_seconds"] / result["raw_seconds"], rel=0.05
    )
    assert result["ratio_to_real_table_reference"] == pytest.approx(
        result["settle_seconds"] / (result["raw_seconds"] + result["raw_links_real_table_seconds"]),
        rel=0.05,
    )
    assert 0 < result["peak_rss_mb"] < 4096
    assert "| settlement, first run |" in capsys.readouterr().out


def test_catalogue_shows_a_page_of_the_providers_delivering_to_the_citizen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalogue.run(backend(), [3, 12], requests=3, results_dir=tmp_path)
    result = _only_result(tmp_path, "catalogue")
    assert result["benchmark"] == "catalogue" and result["database"] == backend()
    assert [run["providers"] for run in result["runs"]] == [3, 12]
    # a page has at most 8 kitchens; page 2 of 3 is the last page again, of 12 the last 4
    assert [run["providers_shown"] for run in result["runs"]] == [3, 8]
    assert [run["page2"]["providers_shown"] for run in result["runs"]] == [3, 4]
    for run in result["runs"]:
        for page in (run, run["page2"]):
            assert page["requests"] == 3
            assert 0 < page["p50_ms"] <= page["p95_ms"] <= page["max_ms"]
            assert page["html_kb"] > 1
    assert len(result["load_average"]) == 3
    assert "| providers delivering |" in capsys.readouterr().out
