"""The web app in a real browser: accounts, search in Chinese, a dataset's history, languages."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.helpers import PASSWORD, create_user, login, screenshot, unique_email


def test_register_login_logout(page, live_server):
    email = unique_email("new")
    page.goto(live_server.url("/register"))
    expect(page.locator("h1")).to_have_text("创建账号")
    screenshot(page, "register")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.fill("#password_confirm", PASSWORD)
    page.click("form.form button[type=submit]")
    expect(page.locator(".flash-success")).to_have_text("账号已创建。")
    expect(page.locator(".user-email")).to_have_text(email)

    page.click("text=退出")
    expect(page.locator(".flash-success")).to_have_text("您已退出登录。")
    expect(page.locator(".nav-account")).to_contain_text("登录")

    page.goto(live_server.url("/login"))
    screenshot(page, "login")
    page.fill("#email", email)
    page.fill("#password", "not the password")
    page.click("form.form button[type=submit]")
    expect(page.locator(".flash-error")).to_have_text("邮箱或密码错误。")
    login(page, live_server, email)
    expect(page.locator(".flash-success")).to_contain_text(email)


def test_the_session_also_authenticates_the_api(page, live_server):
    user = create_user(live_server)
    login(page, live_server, user.email)
    me = page.evaluate("() => window.subscribeApi('/api/v1/auth/me').then(r => r.json())")
    assert me["email"] == user.email


def test_register_shows_field_errors(page, live_server):
    page.goto(live_server.url("/register"))
    page.fill("#email", "not-an-address")
    page.fill("#password", "short")
    page.fill("#password_confirm", "short")
    page.click("form.form button[type=submit]")
    expect(page.locator("#email-error")).to_have_text("请输入有效的电子邮箱地址。")
    expect(page.locator("#password-error")).to_contain_text("8")


def test_search_in_chinese_and_refine_by_a_facet(page, live_server):
    page.goto(live_server.url("/"))
    screenshot(page, "search-empty")
    page.fill("input[name=q]", "空气质量")
    page.press("input[name=q]", "Enter")
    first = page.locator(".result").first
    expect(first.locator("h2")).to_have_text("示例市空气质量日报")
    expect(first.locator("h2 mark").first).to_have_text("空气质量")
    screenshot(page, "search-results")

    page.fill("input[name=q]", "监测")
    page.press("input[name=q]", "Enter")
    expect(page.locator(".result").first).to_contain_text(re.compile("监测|監測"))
    before = result_count(page)
    assert before >= 4  # 监测 in simplified and in traditional (監測) titles
    page.locator('[data-facet="publisher"] a', has_text="市生态环境局").click()
    expect(page.locator(".active-filters")).to_contain_text("市生态环境局")
    publishers = page.locator(".result .meta span:first-child").all_inner_texts()
    assert publishers and set(publishers) == {"市生态环境局"}
    assert 0 < result_count(page) < before
    assert "publisher=" in page.url
    screenshot(page, "search-refined")

    page.select_option("#sort", "title")  # applies at once (app.js)
    expect(page).to_have_url(re.compile(r"sort=title"))
    expect(page.locator(".active-filters")).to_contain_text("市生态环境局")


def result_count(page) -> int:
    return int(re.search(r"\d+", page.locator(".result-count").inner_text()).group())


def test_traditional_query_finds_simplified_titles(page, live_server):
    page.goto(live_server.url("/search?q=空氣質量"))
    expect(page.locator(".result h2").first).to_have_text("示例市空气质量日报")


def test_dataset_page_shows_resources_and_history(page, live_server):
    page.goto(live_server.url("/search?q=空气质量日报"))
    page.locator(".result h2 a").first.click()
    expect(page.locator("h1")).to_have_text("示例市空气质量日报")
    expect(page.locator(".facts")).to_contain_text("市生态环境局")
    versions = page.locator(".version")
    expect(versions).to_have_count(2)
    newest = versions.first
    expect(newest.locator("h3")).to_contain_text("第 2 版")
    expect(newest.locator(".change").first).to_contain_text("PM2.5")
    expect(versions.nth(1)).to_contain_text("首次采集")
    screenshot(page, "dataset")


def test_switch_to_english_and_back(page, live_server):
    page.goto(live_server.url("/search?q=空气质量"))
    page.click(".lang-switch a")
    expect(page.locator(".site-nav .nav-links")).to_contain_text("Search")
    expect(page.locator(".result-count")).to_have_text(re.compile(r"^\d+ datasets?$"))
    assert "lang=" not in page.url and "q=" in page.url  # the query survives the switch
    screenshot(page, "search-english")
    page.goto(live_server.url("/login"))
    expect(page.locator("h1")).to_have_text("Log in")  # the choice is remembered
    page.click(".lang-switch a")
    expect(page.locator("h1")).to_have_text("登录")


def test_phone_layout_has_a_menu(phone_page, live_server):
    phone_page.goto(live_server.url("/search?q=公交"))
    nav = phone_page.locator("#site-nav")
    expect(nav).to_be_hidden()
    phone_page.click(".nav-toggle")
    expect(nav).to_be_visible()
    screenshot(phone_page, "search-phone")


def test_unknown_dataset_is_a_page_not_json(page, live_server):
    response = page.goto(live_server.url("/datasets/999999"))
    assert response.status == 404
    expect(page.locator("h1")).to_contain_text("未找到")
