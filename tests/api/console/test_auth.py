"""Signing in and out of the console: the session cookie and Bearer token, what a wrong password
says, the failed sign-in limit, sessions ended server side, renewal and the profile (WS-ACCOUNT)."""

from __future__ import annotations

from sqlalchemy import select
from treadle.runtime import DEFAULT_OWNER_EMAIL
from treadle.store import Account

from .conftest import OWNER_PASSWORD, Console, error_of


async def test_login_sets_an_httponly_cookie_and_returns_a_bearer_token(console: Console) -> None:
    """WS-ACCOUNT: email and password sign-in; the session works as a cookie and as a Bearer token."""
    response = await console.client.post("/login", json={"email": DEFAULT_OWNER_EMAIL, "password": OWNER_PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["result"] == "success"
    token = body["data"]["access_token"]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"access_token={token}") and "HttpOnly" in cookie and "SameSite=lax" in cookie

    by_cookie = await console.client.get("/account/profile")
    assert by_cookie.status_code == 200, by_cookie.text
    profile = by_cookie.json()
    assert profile["email"] == DEFAULT_OWNER_EMAIL and profile["is_password_set"] is True
    assert isinstance(profile["last_login_at"], int) and isinstance(profile["created_at"], int)

    console.client.cookies.clear()
    by_header = await console.client.get("/account/profile", headers={"Authorization": f"Bearer {token}"})
    assert by_header.status_code == 200 and by_header.json()["id"] == profile["id"]


async def test_a_wrong_password_and_an_unknown_email_get_the_same_401(console: Console) -> None:
    """The message does not tell which of email and password was wrong."""
    wrong = await console.client.post("/login", json={"email": DEFAULT_OWNER_EMAIL, "password": "Wrong-pass-1"})
    unknown = await console.client.post("/login", json={"email": "nobody@example.com", "password": OWNER_PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert error_of(wrong) == error_of(unknown)
    assert error_of(wrong)["message"] == "Invalid email or password."
    assert "set-cookie" not in wrong.headers


async def test_five_failed_logins_in_a_minute_lock_that_email_out(console: Console) -> None:
    for _ in range(5):
        response = await console.client.post("/login", json={"email": DEFAULT_OWNER_EMAIL, "password": "Nope-nope-1"})
        assert response.status_code == 401
    locked = await console.client.post(
        "/login", json={"email": DEFAULT_OWNER_EMAIL.upper(), "password": OWNER_PASSWORD}
    )
    assert locked.status_code == 429
    assert error_of(locked)["code"] == "too_many_requests"
    assert 0 < int(locked.headers["Retry-After"]) <= 60
    # Another email is not affected.
    other = await console.client.post("/login", json={"email": "someone@example.com", "password": "Nope-nope-1"})
    assert other.status_code == 401


async def test_logout_ends_the_session_server_side(console: Console) -> None:
    headers = await console.login()
    assert (await console.client.get("/account/profile", headers=headers)).status_code == 200
    async with console.api.db.session() as session:
        before = await session.scalar(select(Account.session_version).where(Account.email == DEFAULT_OWNER_EMAIL))

    response = await console.client.post("/logout", headers=headers)
    assert response.status_code == 200 and response.json() == {"result": "success"}
    assert 'access_token=""' in response.headers["set-cookie"] or "Max-Age=0" in response.headers["set-cookie"]

    after = await console.client.get("/account/profile", headers=headers)
    assert after.status_code == 401 and error_of(after)["code"] == "unauthorized"
    assert (await console.client.post("/refresh-token", headers=headers)).status_code == 401
    async with console.api.db.session() as session:
        version = await session.scalar(select(Account.session_version).where(Account.email == DEFAULT_OWNER_EMAIL))
    assert before is not None and version == before + 1
    # Signing in again works.
    assert (await console.client.get("/account/profile", headers=await console.login())).status_code == 200


async def test_requests_without_a_genuine_session_are_401(console: Console) -> None:
    missing = await console.client.get("/workspaces")
    assert missing.status_code == 401 and error_of(missing)["code"] == "unauthorized"
    headers = await console.login()
    token = headers["Authorization"].removeprefix("Bearer ")
    tampered = await console.client.get("/workspaces", headers={"Authorization": f"Bearer {token[:-2]}xx"})
    assert tampered.status_code == 401
    basic = await console.client.get("/workspaces", headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401


async def test_refresh_token_issues_a_new_working_token(console: Console) -> None:
    headers = await console.login()
    response = await console.client.post("/refresh-token", headers=headers)
    assert response.status_code == 200, response.text
    fresh = response.json()["data"]["access_token"]
    console.client.cookies.clear()
    profile = await console.client.get("/account/profile", headers={"Authorization": f"Bearer {fresh}"})
    assert profile.status_code == 200


async def test_bad_login_bodies_are_invalid_param(console: Console) -> None:
    missing = await console.client.post("/login", json={"email": DEFAULT_OWNER_EMAIL})
    assert missing.status_code == 400
    body = error_of(missing)
    assert body["code"] == "invalid_param" and "password" in body["message"]
    not_json = await console.client.post("/login", content=b"{nope", headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and error_of(not_json)["code"] == "invalid_param"
