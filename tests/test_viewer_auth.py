"""Viewer access: login, cookies, CSRF, API tokens, headers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from sessionlens.app import create_app
from sessionlens.auth import cookies
from sessionlens.auth.users import Accounts, UserError
from sessionlens.cli import main
from sessionlens.index import Index
from sessionlens.settings import Settings
from sessionlens.stores.local import LocalStore
from tests.helpers import batch

PASSWORD = "correct horse battery"


@pytest.fixture
def viewer(settings: Settings, store: LocalStore, index: Index, site) -> Iterator[TestClient]:
    Accounts(store).add_user("ada", PASSWORD)
    with TestClient(create_app(settings, store=store, index=index), follow_redirects=False) as c:
        yield c


# What the viewer's own login form sends (see tests/security/test_auth_hostile.py).
OWN_ORIGIN = {"Origin": "http://testserver"}


def login(client: TestClient, password: str = PASSWORD) -> None:
    r = client.post("/login", data={"name": "ada", "password": password, "next": "/"}, headers=OWN_ORIGIN)
    assert r.status_code == 303, r.text


READ_PATHS = [
    "/api/sessions",
    "/api/sites",
    "/api/me",
    "/api/sessions/x",
    "/api/sessions/x/pages/y/state?at=0",
]


@pytest.mark.parametrize("path", READ_PATHS)
def test_read_apis_refuse_anonymous_requests(viewer: TestClient, path: str) -> None:
    r = viewer.get(path)
    assert r.status_code == 401
    assert "log in" in r.json()["error"]


@pytest.mark.parametrize("path", ["/", "/sessions/abc"])
def test_viewer_pages_send_anonymous_users_to_login(viewer: TestClient, path: str) -> None:
    r = viewer.get(path)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")


def test_wrong_password_is_refused_and_sets_no_cookie(viewer: TestClient) -> None:
    r = viewer.post("/login", data={"name": "ada", "password": "nope-nope-nope"}, headers=OWN_ORIGIN)
    assert r.status_code == 401 and "Wrong user name or password" in r.text
    assert cookies.COOKIE not in r.cookies
    r = viewer.post("/login", data={"name": "nobody", "password": PASSWORD}, headers=OWN_ORIGIN)
    assert r.status_code == 401


def test_login_sets_an_httponly_strict_cookie_that_opens_the_apis(viewer: TestClient) -> None:
    r = viewer.post(
        "/login", data={"name": "ada", "password": PASSWORD, "next": "/sessions/abc?t=5"}, headers=OWN_ORIGIN
    )
    assert r.status_code == 303 and r.headers["location"] == "/sessions/abc?t=5"
    header = r.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=strict" in header and "Path=/" in header
    me = viewer.get("/api/me")
    assert me.status_code == 200 and me.json()["user"] == "ada" and len(me.json()["csrf"]) == 64
    assert viewer.get("/api/sessions").status_code == 200


def test_login_refuses_open_redirects_and_cross_site_posts(viewer: TestClient) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        r = viewer.post(
            "/login", data={"name": "ada", "password": PASSWORD, "next": target}, headers=OWN_ORIGIN
        )
        assert r.headers["location"] == "/"
    r = viewer.post(
        "/login", data={"name": "ada", "password": PASSWORD}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert r.status_code == 403


def test_forged_or_expired_cookie_is_refused(viewer: TestClient, store: LocalStore) -> None:
    secret = Accounts(store).secret()
    login(viewer)
    good = viewer.cookies[cookies.COOKIE]
    user, expires, session_id, _ = good.split(".")
    viewer.cookies.clear()
    viewer.cookies.set(cookies.COOKIE, good.replace("ada.", "root.", 1))
    assert viewer.get("/api/me").status_code == 401
    viewer.cookies.set(cookies.COOKIE, cookies.issue(secret, user, session_id, 1))
    assert viewer.get("/api/me").status_code == 401
    viewer.cookies.set(cookies.COOKIE, good)
    assert viewer.get("/api/me").status_code == 200


def test_state_changes_need_the_csrf_token(viewer: TestClient) -> None:
    login(viewer)
    r = viewer.post("/api/tokens", json={"label": "x"})
    assert r.status_code == 403 and "CSRF" in r.json()["error"]
    r = viewer.post("/api/tokens", json={"label": "x"}, headers={"X-CSRF-Token": "0" * 64})
    assert r.status_code == 403
    r = viewer.post("/logout")
    assert r.status_code == 403
    csrf = viewer.get("/api/me").json()["csrf"]
    r = viewer.post("/api/tokens", json={"label": "nightly"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201 and r.json()["token"].startswith("slt_")


def test_api_tokens_work_without_a_cookie_and_unknown_ones_do_not(
    viewer: TestClient, store: LocalStore
) -> None:
    token = Accounts(store).create_token("ada", "script")
    r = viewer.get("/api/sessions", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    r = viewer.get("/api/sessions", headers={"Authorization": "Bearer slt_not-a-real-token"})
    assert r.status_code == 401 and "token" in r.json()["error"]


def test_viewer_pages_carry_a_strict_csp(viewer: TestClient) -> None:
    login(viewer)
    r = viewer.get("/sessions/abc")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-eval" not in csp and "'unsafe-inline'" not in csp.split("style-src")[0]
    assert r.headers["x-frame-options"] == "DENY"


def test_passwords_are_stored_as_scrypt_hashes(store: LocalStore) -> None:
    accounts = Accounts(store)
    accounts.add_user("grace", "a long passphrase")
    raw = b"".join(store.get(k) for k in store.list("config/users/"))
    assert b"a long passphrase" not in raw
    assert orjson.loads(raw)["password"]["alg"] == "scrypt"
    assert accounts.authenticate("grace", "a long passphrase") is not None
    assert accounts.authenticate("grace", "a long passphrasE") is None
    with pytest.raises(UserError):
        accounts.add_user("grace", "another password")
    with pytest.raises(UserError):
        accounts.add_user("short", "1234")


def test_users_and_tokens_cli(data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import io

    data = ["--data-dir", str(data_dir)]  # accounts live in the blob store: no index involved
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret-passphrase\n"))
    assert main(["users", "add", "lin", "--password-stdin", *data]) == 0
    assert main(["users", "list", *data]) == 0
    assert "lin" in capsys.readouterr().out
    assert main(["tokens", "create", "lin", "--label", "ci", *data]) == 0
    assert capsys.readouterr().out.startswith("slt_")
    assert main(["tokens", "create", "nobody", *data]) == 2
    assert "no user" in capsys.readouterr().err


def test_ingest_stays_public(viewer: TestClient, site) -> None:
    r = viewer.post(
        f"/ingest/{site.key}", content=orjson.dumps(batch()), headers={"Origin": "https://shop.example"}
    )
    assert r.status_code == 200
