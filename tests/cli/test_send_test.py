"""``news-monitor send-test CHANNEL`` against a real local HTTP receiver."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from monitor.cli.main import main


@pytest.fixture
def rules(tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "c.yaml").write_text(
        "channels:\n"
        f"  hook: {{type: webhook, url: '{httpserver.url_for('/hook')}'}}\n"
        f"  slack: {{type: slack, webhook_url: '{httpserver.url_for('/services/T/B/tok')}'}}\n"
    )
    return directory


def test_delivered(rules: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("thanks", status=202)
    assert main(["send-test", "hook", "--rules-dir", str(rules)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("hook (webhook): delivered")
    assert "202" in out
    ((request, _),) = httpserver.log
    assert request.json["rule"]["id"] == "send-test"
    assert request.headers["webhook-id"].startswith("alrt_test_")


def test_each_sample_has_a_fresh_id(rules: Path, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("", status=204)
    assert main(["send-test", "hook", "--rules-dir", str(rules)]) == 0
    assert main(["send-test", "hook", "--rules-dir", str(rules)]) == 0
    ids = {request.headers["webhook-id"] for request, _ in httpserver.log}
    assert len(ids) == 2


def test_receiver_answer_is_shown(
    rules: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    httpserver.expect_request("/services/T/B/tok").respond_with_data("no_service", status=404)
    assert main(["send-test", "slack", "--rules-dir", str(rules)]) == 1
    out = capsys.readouterr().out
    assert "slack (slack): failed (permanent" in out
    assert "404" in out and "no_service" in out
    assert "tok" not in out.replace("slack (slack)", "")


def test_server_error_would_be_retried(
    rules: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    httpserver.expect_request("/hook").respond_with_data("down", status=503)
    assert main(["send-test", "hook", "--rules-dir", str(rules)]) == 1
    assert "failed (would be retried)" in capsys.readouterr().out


def test_unknown_channel(rules: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send-test", "pager", "--rules-dir", str(rules)]) == 2
    assert "no channel 'pager' (channels: hook, slack)" in capsys.readouterr().err
