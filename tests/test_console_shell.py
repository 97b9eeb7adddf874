"""The console's shell in a real browser: home, navigation, sign-in with access keys, CSRF, error pages."""

from __future__ import annotations

import http.client
from pathlib import Path

from playwright.sync_api import Browser, expect

from fraudhawk.settings import Settings
from tests.browser import NARROW, WIDE, ConsoleSession
from tests.helpers import RunningServer

KEYS = "AKIDCONSOLE:console-secret-1"


def test_home_shows_the_workflow_and_navigation(console: ConsoleSession) -> None:
    page = console.go("/")
    expect(page.get_by_role("heading", name="fraudhawk console")).to_be_visible()
    expect(page.get_by_role("link", name="Event types").first).to_be_visible()
    console.afd.put_entity_type(name="customer")
    console.afd.put_label(name="fraud")
    console.go("/")
    console.shot("home")


def test_narrow_window_folds_the_navigation_into_a_menu(browser: Browser, console: ConsoleSession) -> None:
    context = browser.new_context(viewport=NARROW)
    try:
        page = context.new_page()
        page.goto(console.url + "/")
        nav_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Models", exact=True)
        expect(nav_link).to_be_hidden()
        page.get_by_role("button", name="Menu").click()
        expect(nav_link).to_be_visible()
        # nothing wider than the window: the page does not scroll sideways
        assert page.evaluate("document.documentElement.scrollWidth") <= NARROW["width"]
        page.screenshot(path=str(console.shot("home").with_name("home-narrow.png")), full_page=True)
    finally:
        context.close()


def test_keyboard_reaches_the_skip_link_first(console: ConsoleSession) -> None:
    page = console.go("/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def test_unknown_page_and_refused_form_show_no_trace(console: ConsoleSession) -> None:
    page = console.go("/no-such-page")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    assert "Traceback" not in page.content()
    # a form post without the session's token is refused, and says what to do
    connection = http.client.HTTPConnection("127.0.0.1", console.server.port, timeout=10)
    connection.request("POST", "/signout", body="", headers={"content-type": "application/x-www-form-urlencoded"})
    answer = connection.getresponse()
    body = answer.read().decode()
    assert answer.status == 403
    assert "Reload the page" in body


def test_without_keys_a_foreign_host_name_is_refused(console: ConsoleSession) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", console.server.port, timeout=10)
    connection.request("GET", "/", headers={"host": "attacker.example:80"})
    answer = connection.getresponse()
    assert answer.status == 403
    assert "not a loopback address" in answer.read().decode()


def test_sign_in_with_an_access_key(browser: Browser, tmp_path: Path) -> None:
    settings = Settings.load(data_dir=tmp_path / "data", environ={"FRAUDHAWK_ACCESS_KEYS": KEYS})
    with RunningServer(settings) as server:
        context = browser.new_context(viewport=WIDE)
        try:
            page = context.new_page()
            page.goto(server.url + "/models")
            expect(page).to_have_url(server.url + "/signin?next=%2Fmodels")
            page.get_by_label("Access key ID").fill("AKIDCONSOLE")
            page.get_by_label("Secret access key").fill("wrong")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("alert")).to_contain_text("do not match")
            expect(page.get_by_label("Access key ID")).to_have_value("AKIDCONSOLE")
            page.screenshot(path=str(tmp_path / "x.png"))
            page.get_by_label("Secret access key").fill("console-secret-1")
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(server.url + "/models")
            cookie = next(c for c in context.cookies() if c["name"] == "fraudhawk_console")
            assert cookie["httpOnly"]
            assert cookie["sameSite"] == "Strict"
            page.goto(server.url + "/")
            page.get_by_role("button", name="Sign out (AKIDCONSOLE)").click()
            expect(page).to_have_url(server.url + "/signin?done=Signed+out.")
            page.goto(server.url + "/models")
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        finally:
            context.close()
