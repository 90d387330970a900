"""Every URL the API and the pages take (webhook and chat endpoints, sources) has a
valid host: "http://xn--/" and "http://a..b/" were stored (201) and failed only when
delivered or harvested. A 422 in the error shape naming `url`."""

from __future__ import annotations

import pytest

from subscribe.http_urls import url_problem
from tests.conftest import make_token

SHAPE = {"code", "status", "message", "errors"}
BAD = ["http://xn--/", "http://a..b/", "http://-a.example/", "http://" + "x" * 64 + ".example/",
       "http://1.2.3.999/", "http://[zz]/", "http://ex ample.org/", "http:///path",
       "http://example.org:99999/", "ftp://example.org/", " http://example.org/"]  # fmt: skip
GOOD = ["http://example.org./hook", "https://例え.テスト/h", "http://例え。テスト/", "HTTPS://Example.ORG/",
        "http://xn--r8jz45g.xn--zckzah/", "http://a_b.example.org/", "http://[::1]:8080/",
        "http://10.0.0.1:80/", "http://2130706433/", "https://oapi.dingtalk.com/robot/send?access_token=x"]  # fmt: skip


@pytest.mark.parametrize("url", BAD)
def test_bad_urls_have_a_reason(url):
    assert url_problem(url)


@pytest.mark.parametrize("url", GOOD)
def test_good_urls_pass(url):
    assert url_problem(url) is None


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/webhooks", {}),
        ("/api/v1/chat-endpoints", {"kind": "dingtalk"}),
        ("/api/v1/sources", {"name": "city", "type": "ckan"}),
    ],
    ids=["webhook", "chat", "source"],
)
@pytest.mark.parametrize("url", ["http://xn--/", "http://a..b/"])
def test_the_api_refuses_an_invalid_host_naming_url(app, client, path, body, url):
    headers = {"Authorization": f"Bearer {make_token('op@example.org', 'operator')}"}
    response = client.post(path, headers=headers, json={**body, "url": url})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert set(response.json) == SHAPE
    assert "valid host" in response.json["errors"]["url"][0]
    assert client.get(path, headers=headers).json["total"] == 0  # nothing stored
