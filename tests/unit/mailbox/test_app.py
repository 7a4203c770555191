"""The HTTP app over an in-memory store: API shapes, errors, and safe pages."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from kafka_restaurants.mailbox.app import create_app
from kafka_restaurants.mailbox.messages import StoredMessage, parse_message
from kafka_restaurants.mailbox.routes_api import _messages_json
from kafka_restaurants.mailbox.store import MessageStore
from tests.unit.mailbox.samples import build_message

EVIL_SUBJECT = '<script>alert("subject")</script> & "quotes"'
EVIL_HTML = (
    '<p onclick="alert(1)">Hi</p><script>alert("html")</script>'
    '<a href="https://example.com/o/1">Order</a> "double" \'single\' &amp;'
)


@pytest.fixture
def store() -> MessageStore:
    return MessageStore()


@pytest.fixture
def client(store: MessageStore) -> TestClient:
    return TestClient(create_app(store))


def _add(store: MessageStore, **kwargs: object) -> StoredMessage:
    message = parse_message(build_message(**kwargs))  # type: ignore[arg-type]
    store.add(message)
    return message


def test_messages_list_shape_newest_first(client: TestClient, store: MessageStore) -> None:
    first = _add(store, subject="first")
    second = _add(store, subject="second", to="Bob <bob@example.com>, carol@example.com")
    body = client.get("/api/v1/messages").json()
    assert body["total"] == 2
    assert body["unread"] == 2
    assert body["count"] == 2
    assert body["start"] == 0
    assert [m["ID"] for m in body["messages"]] == [second.id, first.id]
    newest = body["messages"][0]
    assert newest["To"] == [
        {"Name": "Bob", "Address": "bob@example.com"},
        {"Name": "", "Address": "carol@example.com"},
    ]
    assert newest["From"]["Address"] == "orders@kafka-restaurants.local"
    assert newest["Subject"] == "second"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", newest["Created"])
    assert {"MessageID", "Cc", "Size", "Snippet"} <= newest.keys()


def test_messages_pagination_and_validation(client: TestClient, store: MessageStore) -> None:
    for n in range(3):
        _add(store, subject=f"m{n}")
    body = client.get("/api/v1/messages", params={"start": 1, "limit": 1}).json()
    assert [m["Subject"] for m in body["messages"]] == ["m1"]
    assert (body["total"], body["count"], body["start"]) == (3, 1, 1)
    bad = client.get("/api/v1/messages", params={"limit": 0})
    assert bad.status_code == 422
    assert "limit" in bad.text


def test_message_detail_marks_read_and_latest_works(
    client: TestClient, store: MessageStore
) -> None:
    message = _add(store)
    detail = client.get(f"/api/v1/message/{message.id}").json()
    assert detail["ID"] == message.id
    assert "12.50 EUR" in detail["Text"]
    assert "<b>Ann</b>" in detail["HTML"]
    assert client.get("/api/v1/messages").json()["unread"] == 0
    assert client.get("/api/v1/message/latest").json()["ID"] == message.id


def test_unknown_message_is_404_json(client: TestClient) -> None:
    for path in ("/api/v1/message/nope", "/api/v1/message/nope/raw", "/api/v1/message/latest"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/json"
        assert "ID" in response.json()["error"]


def test_headers_and_raw(client: TestClient, store: MessageStore) -> None:
    message = _add(store)
    headers = client.get(f"/api/v1/message/{message.id}/headers").json()
    assert headers["Subject"] == ["Your order is confirmed"]
    raw = client.get(f"/api/v1/message/{message.id}/raw")
    assert raw.content == message.raw


def test_search_api(client: TestClient, store: MessageStore) -> None:
    _add(store, subject="pizza", to="ann@example.com")
    sushi = _add(store, subject="sushi", to="bob@example.com")
    body = client.get("/api/v1/search", params={"query": "to:bob subject:sushi"}).json()
    assert [m["ID"] for m in body["messages"]] == [sushi.id]
    assert body["total"] == 2
    assert body["messages_count"] == 1
    empty = client.get("/api/v1/search", params={"query": " "})
    assert empty.status_code == 400
    assert "query" in empty.json()["error"]


def test_delete_all_some_and_by_search(client: TestClient, store: MessageStore) -> None:
    keep = _add(store, subject="keep")
    drop = _add(store, subject="drop")
    response = client.request("DELETE", "/api/v1/messages", json={"IDs": [drop.id]})
    assert response.status_code == 200
    assert [m.id for m in store.page().messages] == [keep.id]
    assert client.request("DELETE", "/api/v1/messages", content=b"{nope").status_code == 400
    assert client.request("DELETE", "/api/v1/messages", json={"IDs": "x"}).status_code == 400
    assert len(store) == 1
    _add(store, subject="spam offer")
    assert client.delete("/api/v1/search", params={"query": "subject:spam"}).text == "ok"
    assert [m.id for m in store.page().messages] == [keep.id]
    assert client.delete("/api/v1/messages").text == "ok"
    assert len(store) == 0


def test_inbox_page_escapes_subject_and_has_title(client: TestClient, store: MessageStore) -> None:
    _add(store, subject=EVIL_SUBJECT, sender='"<img src=x onerror=alert(2)>" <evil@example.com>')
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<title>Inbox (1) · Mailbox</title>" in page.text
    assert "<script>" not in page.text
    assert "<img" not in page.text
    assert escape(EVIL_SUBJECT) in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none'
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_inbox_page_search_and_empty_states(client: TestClient, store: MessageStore) -> None:
    assert "No messages yet." in client.get("/").text
    _add(store, subject="lasagne")
    _add(store, subject="sushi")
    page = client.get("/", params={"q": "subject:sushi"})
    assert "sushi" in page.text and "lasagne" not in page.text
    assert "No message matches" in client.get("/", params={"q": "subject:tacos"}).text
    assert client.get("/", params={"q": "to:"}).status_code == 400


def test_view_page_sandboxes_html_and_escapes_everything(
    client: TestClient, store: MessageStore
) -> None:
    message = _add(store, subject=EVIL_SUBJECT, html=EVIL_HTML, text="Text <b>part</b>")
    page = client.get(f"/view/{message.id}")
    assert page.status_code == 200
    assert f"<title>{escape(EVIL_SUBJECT)} · Mailbox</title>" in page.text
    assert "<script>" not in page.text
    assert "<p onclick" not in page.text  # the mail HTML appears only escaped, in srcdoc
    assert "Text &lt;b&gt;part&lt;/b&gt;" in page.text

    iframe = re.search(r"<iframe\b[^>]*>", page.text, re.S)
    assert iframe is not None
    tag = iframe.group(0)
    sandbox = re.search(r'sandbox="([^"]*)"', tag)
    assert sandbox is not None
    assert "allow-scripts" not in sandbox.group(1)
    assert "allow-same-origin" not in sandbox.group(1)
    srcdoc = re.search(r'srcdoc="([^"]*)"', tag)
    assert srcdoc is not None, "srcdoc must be one double-quoted attribute with nothing unescaped"
    assert html.unescape(srcdoc.group(1)).endswith(EVIL_HTML + "\n")
    assert store.get(message.id) is not None and message.read is True


def test_view_page_without_html_has_no_iframe(client: TestClient, store: MessageStore) -> None:
    message = _add(store, html=None)
    page = client.get(f"/view/{message.id}")
    assert "<iframe" not in page.text
    assert "12.50 EUR" in page.text
    # The Date header said 10:15 +0100: shown in UTC, and labelled so.
    assert '<time datetime="2026-03-03T09:15:00.000Z">2026-03-03 09:15:00 UTC</time>' in page.text


def test_view_unknown_message_is_404_page(client: TestClient) -> None:
    page = client.get("/view/<nope>")
    assert page.status_code == 404
    assert "Message not found" in page.text
    assert "&lt;nope&gt;" in page.text


def test_static_css_is_local(client: TestClient) -> None:
    page = client.get("/").text
    assert 'href="/static/mailbox.css"' in page
    assert "http://" not in page and "https://" not in page
    css = client.get("/static/mailbox.css")
    assert css.status_code == 200
    assert "text/css" in css.headers["content-type"]


def test_probes_without_smtp(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_api_responses_carry_security_headers_and_the_same_json(
    client: TestClient, store: MessageStore
) -> None:
    for n in range(3):
        _add(store, subject=f"m{n}")
    for path in ("/api/v1/messages", "/api/v1/search?query=subject:m1", "/api/v1/message/x"):
        response = client.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert "default-src 'none'" in response.headers["content-security-policy"], path
    listing = client.get("/api/v1/messages", params={"start": 1, "limit": 1})
    assert listing.headers["content-type"] == "application/json"
    assert listing.json() == _messages_json(store.page(1, 1))
