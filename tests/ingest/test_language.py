"""An article's language: declared by its feed (RSS, Atom, JSON Feed, Content-Language),
else detected from its text; stored with it and carried by the webhook payload."""

from __future__ import annotations

import json

import pytest

from monitor.delivery.channels import webhook as webhook_mod
from monitor.ingest.language import declared_language, detect_language, entry_language
from monitor.ingest.parse import parse_feed
from monitor.store.codec import (
    article_from_dict,
    article_to_dict,
    decode_archived_article,
    encode_archived_article,
)
from tests.factories import make_alert, make_article

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>x</title>{language}
<item><title>{title}</title><description>{text}</description><guid>g1</guid></item>
</channel></rss>"""

SPANISH = (
    "Sanciones contra Irán",
    "El Gobierno de España anunció el martes nuevas sanciones contra Irán por el envío de "
    "drones a Rusia, según fuentes del ministerio.",
)
RUSSIAN = (
    "Санкции против Ирана",
    "Правительство объявило о новых санкциях против Ирана из-за поставок беспилотников.",
)


@pytest.mark.parametrize(
    ("tag", "code"),
    [
        ("en-US", "en"),
        ("en_us", "en"),
        ("pt-BR", "pt"),
        ("zh-Hant-TW", "zh"),
        ("ES", "es"),
        (" fr ", "fr"),
        ("iw", "he"),
        ("und", ""),
        ("*", ""),
        ("english", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_declared_language_keeps_the_primary_subtag(tag: object, code: str) -> None:
    assert declared_language(tag) == code


@pytest.mark.parametrize(
    ("title", "text", "code"),
    [
        (*SPANISH, "es"),
        (*RUSSIAN, "ru"),
        ("Les sanctions contre l'Iran", "Le gouvernement français a annoncé lundi.", "fr"),
        ("Sanktionen gegen Iran", "Die Bundesregierung kündigte neue Sanktionen an.", "de"),
        ("伊朗", "伊朗政府宣布对俄罗斯实施新的制裁。", "zh"),
        ("イラン", "イラン政府はロシアに対する新たな制裁を発表した。", "ja"),
        ("عقوبات", "أعلنت الحكومة الإيرانية عن عقوبات جديدة ضد روسيا.", "ar"),
        ("IRAN AND RUSSIA SIGN A DRONE DEAL", "", "en"),  # capitals read as English
    ],
)
def test_detected_language(title: str, text: str, code: str) -> None:
    assert detect_language(title, text) == code


def test_nothing_to_read_is_no_language() -> None:
    assert detect_language("", "") == ""
    assert detect_language("2024", "12:30 -- 5%") == ""


def test_the_feeds_declared_language_wins_over_detection() -> None:
    """A feed that says it is Italian is believed (detection would say Spanish)."""
    body = RSS.format(language="<language>it-IT</language>", title=SPANISH[0], text=SPANISH[1])
    [article] = parse_feed("f", body.encode(), {}, fetched_at=0.0).articles
    assert article.language == "it"


def test_without_a_declared_language_the_text_decides() -> None:
    body = RSS.format(language="", title=RUSSIAN[0], text=RUSSIAN[1])
    [article] = parse_feed("f", body.encode(), {}, fetched_at=0.0).articles
    assert article.language == "ru"


def test_content_language_header_declares_it() -> None:
    body = RSS.format(language="", title=SPANISH[0], text=SPANISH[1])
    headers = {"Content-Language": "pt-BR"}
    [article] = parse_feed("f", body.encode(), headers, fetched_at=0.0).articles
    assert article.language == "pt"


def test_atom_xml_lang_per_entry() -> None:
    body = """<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">
    <title>x</title><entry xml:lang="de"><title>Hallo</title><id>urn:1</id></entry>
    <entry><title>Bonjour</title><id>urn:2</id></entry></feed>"""
    articles = parse_feed("f", body.encode(), {}, fetched_at=0.0).articles
    assert [a.language for a in articles] == ["de", "fr"]


def test_json_feed_language_of_feed_and_item() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "language": "es",
        "items": [
            {"id": "1", "title": "uno", "content_text": "texto"},
            {"id": "2", "title": "due", "content_text": "testo", "language": "it"},
        ],
    }
    articles = parse_feed("f", json.dumps(doc).encode(), {}, fetched_at=0.0).articles
    assert [a.language for a in articles] == ["es", "it"]


def test_entry_language_reads_title_summary_and_content_details() -> None:
    assert entry_language({"title_detail": {"language": None}}) == ""
    assert entry_language({"summary_detail": {"language": "nl-BE"}}) == "nl"
    assert entry_language({"content": [{"value": "x", "language": "sv"}]}) == "sv"


def test_the_store_codec_keeps_the_language_and_reads_old_records() -> None:
    article = make_article(language="es")
    assert article_from_dict(article_to_dict(article)) == article
    assert decode_archived_article(encode_archived_article(article)).language == "es"
    old = article_to_dict(make_article())
    del old["language"]  # written before languages were known
    assert article_from_dict(old).language == ""


def test_webhook_payload_carries_the_language() -> None:
    payload = json.loads(
        webhook_mod.encode_payload(make_alert(article=make_article(language="ar")))
    )
    assert payload["article"]["language"] == "ar"
    assert payload["version"] == 1, "a new field, not a new version"
