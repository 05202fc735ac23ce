"""``news-monitor feeds import``: OPML in, a feeds YAML file that ``check`` accepts out.

The fixture ``tests/fixtures/subscriptions.opml`` is hand-written for these
tests: nested folders, a duplicate URL, colliding titles, a ``feed:`` URL, a
non-http URL, an inclusion and an empty folder.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from monitor.cli.main import main
from monitor.config.load import load_config
from monitor.config.opml import (
    OpmlError,
    feed_url,
    import_opml,
    plan_import,
    read_outlines,
    render_yaml,
    slugify,
)
from tests.factories import make_settings

FIXTURE = Path(__file__).parent.parent / "fixtures" / "subscriptions.opml"


def opml(body: str, head: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<opml version="2.0">\n<head>{head}</head>\n'
        f"<body>\n{body}\n</body>\n</opml>\n"
    ).encode()


def run_import(source: Path, output: Path, force: bool = False) -> tuple[int, str]:
    err = io.StringIO()
    code = import_opml(source, output, force=force, err=err)
    return code, err.getvalue()


def test_the_fixture_imports_into_a_file_check_accepts(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "channels.yaml").write_text("channels:\n  out: {type: console}\n")
    output = rules / "imported.yaml"
    code, err = run_import(FIXTURE, output)
    assert code == 0, err
    feeds = yaml.safe_load(output.read_text())["feeds"]
    assert feeds == [
        {
            "id": "example-world",
            "name": "Example World",
            "url": "https://news.example.org/world/rss.xml",
        },
        {
            "id": "example-world-2",
            "name": "Example World",
            "url": "https://news.example.org/world/alt.xml",
        },
        {
            "id": "le-monde-a-la-une",
            "name": "Le Monde – À la une",
            "url": "https://www.lemonde.example/rss/une.xml",
        },
        {"id": "old-style", "name": "Old style", "url": "http://blog.example.net/atom"},
        {
            "id": "untitled-example-com-feeds-all-atom",
            "url": "https://untitled.example.com/feeds/all.atom",
        },
        {
            "id": "top-level-proud",
            "name": "Top level & proud",
            "url": "http://top.example.org/rss?format=xml&lang=en",
        },
    ]
    text = output.read_text()
    assert "  # News / World\n" in text and "  # Tech\n" in text
    assert "    # site: https://news.example.org/world\n" in text
    loaded = load_config(make_settings(rules_dir=rules), env={})
    assert [f.id for f in loaded.config.feeds] == [f["id"] for f in feeds]
    skipped = [line for line in err.splitlines() if "skipped outline" in line]
    assert skipped == [
        f"{FIXTURE}:20: skipped outline \"Example World copy\": same URL as feed 'example-world' "
        "(line 12)",
        f'{FIXTURE}:22: skipped outline "Gopher": not an http(s) URL',
        f'{FIXTURE}:25: skipped outline "Empty folder": no xmlUrl: not a feed',
        f'{FIXTURE}:26: skipped outline "More": an OPML inclusion (type=include): included '
        "files are not followed",
    ]
    assert err.splitlines()[-1] == (
        f"imported 6 feed(s) from {FIXTURE} into {output}; skipped 4 outline(s)"
    )


def test_feeds_already_configured_next_to_the_output_are_not_repeated(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text(
        "feeds:\n"
        "  - {id: example-world, url: 'https://news.example.org/other.xml'}\n"
        "  - {id: mine, url: 'http://TOP.example.org/rss?format=xml&lang=en'}\n"
    )
    output = tmp_path / "imported.yaml"
    code, err = run_import(FIXTURE, output)
    assert code == 0, err
    ids = [f["id"] for f in yaml.safe_load(output.read_text())["feeds"]]
    assert ids[:2] == ["example-world-2", "example-world-3"], "the taken id is not reused"
    assert "top-level-proud" not in ids
    assert "same URL as feed 'mine' in feeds.yaml" in err
    load_config(make_settings(rules_dir=tmp_path), env={})  # no duplicate id or error


def test_an_existing_output_is_only_replaced_with_force(tmp_path: Path) -> None:
    output = tmp_path / "imported.yaml"
    output.write_text("# mine\n")
    code, err = run_import(FIXTURE, output)
    assert code == 2
    assert f"error: {output} exists; choose another --output, or add --force" in err
    assert output.read_text() == "# mine\n"
    code, err = run_import(FIXTURE, output, force=True)
    assert code == 0, err
    assert "example-world" in output.read_text()
    # Replacing a file does not count its own feeds as taken.
    code, err = run_import(FIXTURE, output, force=True)
    assert code == 0 and "- id: example-world\n" in output.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["imported.yaml"], "no temp file left"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY a "aaaa">]>\n'
            b'<opml><body><outline text="&a;" xmlUrl="https://a.example/rss"/></body></opml>',
            "line 2: refused: a DOCTYPE or entity declaration",
        ),
        (
            # The same, in UTF-16: a byte search would miss it, expat does not.
            '<?xml version="1.0" encoding="utf-16"?>\n<!DOCTYPE opml [<!ENTITY a "a">]>\n'
            "<opml><body/></opml>".encode("utf-16"),
            "refused: a DOCTYPE or entity declaration",
        ),
        (b'<!DOCTYPE opml SYSTEM "http://evil.example/x.dtd"><opml/>', "refused: a DOCTYPE"),
        (b"<opml><body><outline text='x'></body></opml>", "line 1: not well-formed XML"),
        (b"", "not well-formed XML: no element found"),
        (b"<rss><channel/></rss>", "not an OPML file: the root element is <rss>"),
    ],
)
def test_unreadable_or_hostile_files_are_refused(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(OpmlError) as caught:
        read_outlines(data)
    assert message in str(caught.value)
    source = tmp_path / "in.opml"
    source.write_bytes(data)
    code, err = run_import(source, tmp_path / "out.yaml")
    assert code == 2 and f"error: {source}: " in err and message in err
    assert not (tmp_path / "out.yaml").exists()


def test_a_billion_laughs_is_refused_before_expansion() -> None:
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    data = f'<!DOCTYPE opml [<!ENTITY l0 "lol">{laughs}]><opml><body/></opml>'.encode()
    with pytest.raises(OpmlError, match="refused"):
        read_outlines(data)


def test_opml_1_attributes_in_any_case_and_outlines_outside_the_body(tmp_path: Path) -> None:
    outlines = read_outlines(
        opml(
            '<outline title="Only a title" XMLURL="https://a.example/rss"/>\n'
            '<outline text="Folder"><outline text="Deep"><outline text="Leaf" '
            'xmlUrl="https://b.example/rss"/></outline></outline>',
            head='<outline text="Head" xmlUrl="https://head.example/rss"/>',
        )
    )
    assert [(o.label, o.xml_url, o.folders) for o in outlines] == [
        ("Only a title", "https://a.example/rss", ()),
        ("Folder", "", ()),
        ("Deep", "", ("Folder",)),
        ("Leaf", "https://b.example/rss", ("Folder", "Deep")),
    ]


def test_nothing_to_import_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "empty.opml"
    source.write_bytes(opml('<outline text="Folder"/>'))
    code, err = run_import(source, tmp_path / "out.yaml")
    assert code == 2
    assert "no feed to import (1 outline(s) read)" in err
    assert "no xmlUrl: not a feed" in err
    assert not (tmp_path / "out.yaml").exists()


def test_missing_input_or_output_directory(tmp_path: Path) -> None:
    code, err = run_import(tmp_path / "nope.opml", tmp_path / "out.yaml")
    assert code == 2 and f"cannot read {tmp_path / 'nope.opml'}: No such file" in err
    code, err = run_import(FIXTURE, tmp_path / "missing" / "out.yaml")
    assert code == 2 and f"directory {tmp_path / 'missing'} does not exist" in err


def test_awkward_names_and_ids_read_back_exactly() -> None:
    outlines = read_outlines(
        opml(
            '<outline text="2024" xmlUrl="https://a.example/1"/>\n'
            '<outline text="yes" xmlUrl="https://a.example/2"/>\n'
            '<outline text="He said &quot;hi&quot; \\ bye: #1 &#x9;tab&#10;line"'
            ' xmlUrl="https://a.example/3"/>\n'
            '<outline text="日本のニュース" xmlUrl="https://a.example/4?a=1&amp;b=2"/>\n'
            '<outline text="" xmlUrl="https://a.example/"/>\n'
            '<outline text="x" xmlUrl="https://a.example/has space"/>\n'
            '<outline text="y" xmlUrl="https://a.example:99999/"/>\n'
        )
    )
    plan = plan_import(outlines)
    text = render_yaml(plan, source="t.opml")
    feeds = yaml.safe_load(text)["feeds"]
    assert [f["id"] for f in feeds] == [
        "2024",
        "yes",
        "he-said-hi-bye-1-tab-line",
        "a-example-4",
        "a-example",
    ]
    assert all(isinstance(f["id"], str) for f in feeds)
    assert feeds[2]["name"] == 'He said "hi" \\ bye: #1 tab line'
    assert feeds[3] == {
        "id": "a-example-4",
        "name": "日本のニュース",
        "url": "https://a.example/4?a=1&b=2",
    }
    assert [s.reason for s in plan.skipped] == [
        "the URL contains spaces or control characters",
        "invalid URL: Port out of range 0-65535",
    ]


@pytest.mark.parametrize(
    ("raw", "url"),
    [
        ("feed://example.com/rss", "http://example.com/rss"),
        ("feed:https://example.com/rss", "https://example.com/rss"),
        ("HTTPS://Example.com/Rss", "https://Example.com/Rss"),
        ("  https://example.com/rss  ", "https://example.com/rss"),
        ("javascript:alert(1)", ""),
        ("https:///path-only", ""),
    ],
)
def test_feed_urls(raw: str, url: str) -> None:
    assert feed_url(raw)[0] == url


def test_slugify() -> None:
    assert slugify("BBC News - World") == "bbc-news-world"
    assert slugify("Ärzte ohne Grenzen") == "arzte-ohne-grenzen"
    assert slugify("---") == ""
    assert len(slugify("x" * 500)) == 60


def test_import_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    rules = tmp_path / "rules"
    rules.mkdir()
    monkeypatch.setenv("MONITOR_RULES_DIR", str(rules))
    assert main(["feeds", "import", str(FIXTURE)]) == 0
    assert "imported 6 feed(s)" in capsys.readouterr().err
    assert (rules / "imported-feeds.yaml").exists()
    assert main(["feeds", "import", str(FIXTURE)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["feeds", "import", str(FIXTURE), "-o", str(tmp_path / "x.yaml")]) == 0
    assert (
        main(
            [
                "feeds",
                "import",
                str(FIXTURE),
                "--output",
                str(rules / "imported-feeds.yaml"),
                "--force",
            ]
        )
        == 0
    )
    assert main(["check", "--rules-dir", str(rules)]) == 0
