"""Chat messages: one change, or a digest of many, as one compact Chinese message for a
DingTalk / WeCom markdown robot or a Feishu rich-text (post) robot, under its size limit.

Pure functions (no database, no request): the delivery worker calls them. Every message
starts with 【数据订阅】, so a robot whose security setting is a keyword (自定义关键词)
can use 数据订阅. Titles and names come from harvested catalogs and are untrusted: in
markdown their markup characters become full-width look-alikes, so a title cannot make a
link, heading or <font> tag; Feishu's text tags are plain text already. Links are only to
this service's own pages (the dataset page, the scenario page), built from the base URL.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from subscribe.notify import digest
from subscribe.notify.channels.chat import PLATFORMS

BRAND = "【数据订阅】"
DETAILS_PER_ITEM = 3  # change lines under one dataset
DETAIL_CHARS = 120
EXTRA_HEADLINES = {"dataset.suggested": "推荐数据集", "dataset.feedback": "数据纠错"}

# Markdown markup in untrusted text → full-width look-alikes (DingTalk and WeCom markdown
# have no reliable backslash escapes).
_MARKUP = str.maketrans({
    "[": "［", "]": "］", "(": "（", ")": "）", "*": "＊", "_": "＿", "`": "｀", "#": "＃",
    "<": "＜", ">": "＞", "~": "～", "|": "｜", "\\": "＼", "!": "！",
})  # fmt: skip


def _plain(value: Any, limit: int = digest.MAX_TEXT) -> str:
    return digest._short(value, limit)


def _md(value: Any, limit: int = digest.MAX_TEXT) -> str:
    return _plain(value, limit).translate(_MARKUP)


def _url(url: str) -> str:
    """A link target markdown cannot misread: no spaces or parentheses."""
    return quote(url, safe=":/?&=#%.,-_~+@;")


# --- what a message says ------------------------------------------------------------


def _entry(payload: Mapping, base_url: str, timezone: str | None) -> dict:
    view = digest.item_view(payload, "zh", base_url, timezone)
    data = payload.get("data") if isinstance(payload.get("data"), Mapping) else payload
    dataset = data.get("dataset") if isinstance(data.get("dataset"), Mapping) else {}
    bundle = data.get("bundle") if isinstance(data.get("bundle"), Mapping) else {}
    link = None
    if isinstance(dataset.get("id"), int) and base_url:
        link = f"{base_url}/datasets/{dataset['id']}"
    elif isinstance(bundle.get("id"), int) and base_url:
        link = f"{base_url}/bundles/{bundle['id']}"  # the bundle's page: files, download
    details = [_plain(c, DETAIL_CHARS) for c in view["changes"][:DETAILS_PER_ITEM]]
    if len(view["changes"]) > DETAILS_PER_ITEM or view["more_changes"]:
        details.append("……")
    if view["type"] == "bundle.ready":
        title = f"{bundle.get('file_count', 0)} 个文件"
    else:
        title = view["title"]
    headline = view["headline"]
    if headline == view["type"]:
        headline = EXTRA_HEADLINES.get(view["type"], headline)
    reason = view["reason"] if view["reason"] and view["type"] != "bundle.ready" else ""
    return {"type": view["type"], "type_label": view["type_label"], "headline": headline,
            "title": title, "link": link, "reason": reason, "details": details,
            "scenario_id": view["scenario_id"], "scenario_name": view["scenario_name"]}  # fmt: skip


def _scenario(entries: list[dict], base_url: str) -> tuple[str | None, str | None]:
    ids = {(e["scenario_id"], e["scenario_name"]) for e in entries}
    if len(ids) != 1:
        return None, None
    scenario_id, name = ids.pop()
    if scenario_id is None:
        return None, None
    return name or f"#{scenario_id}", f"{base_url}/scenarios/{scenario_id}" if base_url else None


def _title(entries: list[dict], scenario: str | None, digest_mode: bool) -> str:
    where = f"{_plain(scenario, 40)}：" if scenario else ""
    if not digest_mode and len(entries) == 1:
        return f"{BRAND}{where}{entries[0]['headline']}"
    return f"{BRAND}{where}数据变更 {len(entries)} 项"


def _summary(entries: list[dict]) -> str:
    counts = Counter(e["type_label"] for e in entries)
    return " · ".join(f"{label} {n}" for label, n in counts.items())


# --- markdown (DingTalk, WeCom) -----------------------------------------------------


def _md_entry(entry: dict, single: bool) -> str:
    title = _md(entry["title"])
    named = f"[{title}]({_url(entry['link'])})" if entry["link"] else title
    head = f"**{named}**" if single else f"- {entry['headline']}：{named}"
    lines = [head]
    if entry["reason"]:
        lines.append(f"> {_md(entry['reason'], DETAIL_CHARS)}")
    lines += [f"> {_md(d, DETAIL_CHARS)}" for d in entry["details"]]
    return "\n".join(lines)


def _markdown(entries: list[dict], title: str, scenario: tuple, limit: int) -> str:
    """The markdown text: as many entries as fit in `limit` bytes, then how many more."""
    name, scenario_url = scenario
    single = len(entries) == 1
    head = [f"### {_md(title)}"] + ([] if single else [f"> {_summary(entries)}"])
    foot = [f"[查看场景：{_md(name, 40)}]({_url(scenario_url)})"] if name and scenario_url else []

    def size(blocks: list[str]) -> int:
        return len("\n\n".join(blocks).encode())

    body: list[str] = []
    for n, entry in enumerate(entries):
        block = _md_entry(entry, single)
        rest = len(entries) - n - 1
        more = [f"……另有 {rest} 项未列出"] if rest else []
        # Room is kept for the "more" line, so stopping at the next entry always fits.
        if body and size(head + body + [block] + more + foot) > limit:
            body.append(f"……另有 {len(entries) - n} 项未列出")
            break
        body.append(block)
    return _cut("\n\n".join(head + body + foot), limit)


def _cut(text: str, limit: int) -> str:
    """A last resort for a single over-long entry: cut on a character boundary."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - 3].decode(errors="ignore") + "…"


# --- Feishu post ----------------------------------------------------------------------


def _post_entry(entry: dict) -> list[list[dict]]:
    first = [{"tag": "text", "text": f"{entry['headline']}："}]
    title = _plain(entry["title"])
    first.append({"tag": "a", "text": title, "href": entry["link"]} if entry["link"]
                 else {"tag": "text", "text": title})  # fmt: skip
    lines = [first]
    if entry["reason"]:
        lines.append([{"tag": "text", "text": f"    {_plain(entry['reason'], DETAIL_CHARS)}"}])
    lines += [[{"tag": "text", "text": f"    {d}"}] for d in entry["details"]]
    return lines


def _feishu(entries: list[dict], title: str, scenario: tuple, limit: int) -> dict:
    name, scenario_url = scenario
    head = [] if len(entries) == 1 else [[{"tag": "text", "text": _summary(entries)}]]
    foot = ([[{"tag": "a", "text": f"查看场景：{_plain(name, 40)}", "href": scenario_url}]]
            if name and scenario_url else [])  # fmt: skip

    def body(lines: list) -> dict:
        post = {"zh_cn": {"title": _plain(title), "content": head + lines + foot}}
        return {"msg_type": "post", "content": {"post": post}}

    def size(message: dict) -> int:
        # Room for the signature fields added when sending (about 90 bytes).
        return len(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()) + 120

    lines: list = []
    for n, entry in enumerate(entries):
        more = len(entries) - n - 1
        more_line = [[{"tag": "text", "text": f"……另有 {more} 项未列出"}]] if more else []
        if size(body(lines + _post_entry(entry) + more_line)) > limit and lines:
            lines.append([{"tag": "text", "text": f"……另有 {len(entries) - n} 项未列出"}])
            break
        lines += _post_entry(entry)
    return body(lines)


# --- the message ----------------------------------------------------------------------


def render(kind: str, payloads: list[Mapping], base_url: str, *, digest_mode: bool = False,
           timezone: str | None = "Asia/Shanghai") -> dict:  # fmt: skip
    """The unsigned JSON body of one chat message about `payloads` (webhook bodies, as the
    outbox stores them): one change, or a digest listing many (as many as fit under the
    platform's limit, then "……另有 N 项未列出"). ValueError for an unknown kind or nothing."""
    if kind not in PLATFORMS:
        raise ValueError(f"Unknown chat platform: {kind!r}")
    if not payloads:
        raise ValueError("Nothing to send: no payloads.")
    base_url = base_url.rstrip("/")
    entries = [_entry(p, base_url, timezone) for p in payloads]
    scenario = _scenario(entries, base_url)
    title = _title(entries, scenario[0], digest_mode)
    limit = PLATFORMS[kind].limit
    if kind == "feishu":
        return _feishu(entries, title, scenario, limit)
    text = _markdown(entries, title, scenario, limit)
    if kind == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": _plain(title, 60), "text": text}}
    return {"msgtype": "markdown", "markdown": {"content": text}}


def test_message(kind: str, base_url: str, description: str = "") -> dict:
    """The unsigned body of the test message an endpoint's owner sends from the page/API."""
    base_url = base_url.rstrip("/")
    title = f"{BRAND}群机器人测试消息"
    line = "连接成功：数据集的变化会推送到这个群。"
    named = f"（{_plain(description, 60)}）" if description else ""
    link = f"{base_url}/subscriptions" if base_url else ""
    if kind == "feishu":
        content = [[{"tag": "text", "text": line + named}]]
        if link:
            content.append([{"tag": "a", "text": "管理订阅", "href": link}])
        post = {"zh_cn": {"title": title, "content": content}}
        return {"msg_type": "post", "content": {"post": post}}
    text = f"### {title}\n\n{line}{_md(named)}" + (f"\n\n[管理订阅]({_url(link)})" if link else "")
    if kind == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    if kind == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": text}}
    raise ValueError(f"Unknown chat platform: {kind!r}")
