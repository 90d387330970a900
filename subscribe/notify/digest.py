"""E-mail content and timing: when a subscription's next digest is due, and the subject,
plain text and HTML of an immediate message or a digest, in Chinese or English.

Pure functions (no database, no request, no Flask app): the delivery worker calls them.
Templates live in subscribe/notify/templates/email/ and are rendered by this module's
own Jinja2 environment, autoescaped for HTML (dataset titles come from harvested
catalogs and are untrusted).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from subscribe.catalog import text as catalog_text

DEFAULT_TIMEZONE = "Asia/Shanghai"
EVENT_ORDER = ("dataset.created", "dataset.updated", "dataset.deleted", "dataset.overdue",
               "dataset.suggested")  # fmt: skip
MAX_DIGEST_ITEMS = 200  # listed in one digest; the counts always cover every item
MAX_CHANGES_LISTED = 10  # per item
MAX_TITLE_IN_SUBJECT = 80
MAX_TEXT = 200  # characters of any one value shown (names, URLs, field lists)


# --- When ----------------------------------------------------------------------------


def next_digest_at(subscription: Any, after: datetime) -> datetime:
    """The first digest time strictly after `after` (naive UTC in and out).

    `subscription` is anything with `cadence`, `hour`, `weekday` (0 = Monday) and
    `timezone` (IANA; empty means Asia/Shanghai). daily: the next `hour`:00 local time;
    weekly: the next `weekday` at `hour`:00; immediate: `after` itself. Local times are
    converted with zoneinfo, so the digest keeps its local hour across DST changes; an
    hour the clocks skip (02:00 on a spring-forward night) is taken with the offset before
    the change (03:00 new time), an hour that happens twice counts once (the first).
    """
    if after.tzinfo is not None:
        after = after.astimezone(UTC).replace(tzinfo=None)
    cadence = _field(subscription, "cadence", "immediate")
    if cadence == "immediate":
        return after
    if cadence not in ("daily", "weekly"):
        raise ValueError(f"Unknown cadence: {cadence!r}")
    hour = int(_field(subscription, "hour", 8))
    weekday = int(_field(subscription, "weekday", 0))
    if not 0 <= hour <= 23:
        raise ValueError(f"hour must be 0–23, not {hour}")
    if cadence == "weekly" and not 0 <= weekday <= 6:
        raise ValueError(f"weekday must be 0 (Monday) – 6, not {weekday}")
    zone = ZoneInfo(_field(subscription, "timezone", DEFAULT_TIMEZONE) or DEFAULT_TIMEZONE)
    start = after.replace(tzinfo=UTC).astimezone(zone).date() - timedelta(days=1)
    for offset in range(16):  # covers a week plus offsets and DST shifts
        day: date = start + timedelta(days=offset)
        if cadence == "weekly" and day.weekday() != weekday:
            continue
        local = datetime.combine(day, time(hour), tzinfo=zone)  # fold=0: first occurrence
        at = local.astimezone(UTC).replace(tzinfo=None)
        if at > after:
            return at
    raise AssertionError("unreachable: a day with the hour exists within 16 days")


def _field(subscription: Any, name: str, default: Any) -> Any:
    """An attribute, or the model's default when unset (None on a row not yet flushed)."""
    value = getattr(subscription, name, None)
    return default if value is None else value


# --- What ----------------------------------------------------------------------------

STRINGS: dict[str, dict[str, Any]] = {
    "zh": {
        "lang": "zh-CN",
        "types": {"dataset.created": "新增", "dataset.updated": "更新",
                  "dataset.deleted": "下线", "dataset.overdue": "逾期未更新",
                  "bundle.ready": "数据包", "dataset.suggested": "推荐",
                  "dataset.feedback": "数据纠错",
                  "report.state": "您的纠错", "webhook.disabled": "端点停用"},
        # Headline of one event: by type, then by reason (as in the Atom feed).
        "headlines": {
            "dataset.created": {"": "新数据集", "now_matches": "新进入场景"},
            "dataset.updated": {"": "数据集更新"},
            "dataset.deleted": {"": "数据集已下线", "no_longer_matches": "移出场景"},
            "dataset.overdue": {"": "数据集逾期未更新"},
            "bundle.ready": {"": "数据包已就绪，可以下载"},
            "webhook.disabled": {"": "Webhook 端点已停用", "chat": "群机器人已停用"},
            "dataset.suggested": {"": "推荐数据集"},
            "dataset.feedback": {"": "数据纠错", "open": "数据集有新的纠错报告",
                                 "acknowledged": "纠错报告已受理",
                                 "resolved": "纠错报告已确认：数据有误",
                                 "rejected": "纠错报告未被采纳"},
            "report.state": {"": "您的纠错报告有新进展", "open": "您的纠错报告已提交",
                             "acknowledged": "您的纠错报告已受理",
                             "resolved": "您的纠错报告已确认", "rejected": "您的纠错报告未被采纳"},
        },
        "reasons": {"published": "新发布", "now_matches": "新符合场景条件",
                    "changed": "有变化", "deleted_upstream": "源站已删除",
                    "no_longer_matches": "不再符合场景条件", "overdue": "超过更新周期未更新",
                    "suggested": "与场景成员相似",
                    "open": "待处理", "acknowledged": "已受理", "resolved": "已确认（数据有误）",
                    "rejected": "未采纳"},
        "subject_immediate": "{prefix}{headline}：{title}",
        "subject_digest": "{prefix}数据变更摘要：{total}",
        "prefix": "【{name}】",
        "digest_title": "数据变更摘要",
        "immediate_intro": "您订阅的数据集有新动态。",
        "intros": {"report.state": "您提交的纠错报告有了新进展。",
                   "dataset.feedback": "您关注的数据集有纠错报告的新动态。",
                   "bundle.ready": "您订阅的数据包已经生成，可以下载。",
                   "webhook.disabled": "我们已停止向下面这个端点发送消息，直到您重新启用它。"},
        # Messages about something other than a dataset (bundle.ready, webhook.disabled).
        "bundle_files": "{files} 个文件，压缩包 {size}",
        "bundle_skipped": "{n} 个文件未收录（原因见包内 README）",
        "bundle_changed": "只含自上一个数据包以来有变化的文件",
        "bundle_expires": "下载有效期至 {when}",
        "bundle_download": "下载数据包",
        "why": "停用原因",
        "disabled_asked": "接收端答复 HTTP {status}，要求停止发送",
        "disabled_asked_header": "接收端以 webhook-delivery: disable 头要求停止发送（HTTP {status}）",
        "disabled_failing": "连续失败超过 5 天",
        "enable_how": "修复接收端后重新启用：在端点页面点击「启用」，或调用 POST {api}",
        "recover_how": "停用期间未送达的消息可以用 POST {api}（请求体 {{\"since\": \"…\"}}）重新发送",
        "endpoint_page": "打开端点页面",
        "digest_intro": "自上次摘要以来，您订阅的数据有以下变化。",
        "total": "共 {total} 项",
        "sep": "，",
        "list_sep": "、",
        "colon": "：",
        "no_scenario": "单个数据集订阅",
        "untitled": "（无标题）",
        "version": "版本 {version}",
        "changes": "变更",
        "because": "命中原因",
        "open": "查看数据集",
        "api": "API",
        "more_changes": "……另有 {n} 项变更",
        "more_items": "另有 {n} 项变更未在此列出。",
        "footer": "这是 subscribe 自动发送的邮件，请勿直接回复。",
        "manage": "管理订阅",
        "unsubscribe": "退订此订阅的邮件",
        "fields": {
            "title": "标题", "description": "描述", "publisher": "发布单位", "themes": "数据领域",
            "keywords": "关键字", "formats": "资源格式", "open_type": "开放属性",
            "frequency": "更新周期", "issued": "发布日期", "modified": "更新日期",
            "translations": "多语言文本", "landing_page": "详情页", "license": "许可协议",
            "contact_point": "联系方式", "record_count": "数据量", "name": "名称",
            "distinguished_by": "区分依据",
            "format": "格式", "url": "地址", "size": "大小", "checksum": "校验值",
        },
        "kinds": {
            "metadata": "元数据变更", "content": "内容变化", "schema": "表结构变化",
            "resource_added": "新增资源", "resource_removed": "移除资源",
            "resource_unavailable": "资源无法访问", "resource_changed": "资源变更",
            "overdue": "逾期未更新", "restored": "数据集恢复", "feedback": "纠错报告",
        },
        "restored": "恢复可用",
        "rows": "行数 {old} → {new}",
        "added_columns": "新增列 {columns}",
        "removed_columns": "删除列 {columns}",
        "overdue": "应于 {due} 前更新（更新频率：{frequency}）",
        "status": "HTTP {status}",
        "pinned": "手动加入场景",
        "words": "关键词 {words}",
        "phrases": "短语 {phrases}",
        "filters": "筛选 {filters}",
    },
    "en": {
        "lang": "en",
        "types": {"dataset.created": "New", "dataset.updated": "Updated",
                  "dataset.deleted": "Removed", "dataset.overdue": "Overdue",
                  "bundle.ready": "Bundle", "dataset.suggested": "Suggested",
                  "dataset.feedback": "Error report",
                  "report.state": "Your error report", "webhook.disabled": "Endpoint disabled"},
        "headlines": {
            "dataset.created": {"": "New dataset", "now_matches": "Now in scenario"},
            "dataset.updated": {"": "Dataset updated"},
            "dataset.deleted": {"": "Dataset withdrawn", "no_longer_matches": "Left scenario"},
            "dataset.overdue": {"": "Dataset overdue"},
            "bundle.ready": {"": "Bundle ready to download"},
            "webhook.disabled": {"": "Webhook endpoint disabled", "chat": "Chat robot disabled"},
            "dataset.suggested": {"": "Suggested dataset"},
            "dataset.feedback": {"": "Error report", "open": "New error report on a dataset",
                                 "acknowledged": "Error report acknowledged",
                                 "resolved": "Error report confirmed: the data is wrong",
                                 "rejected": "Error report rejected"},
            "report.state": {"": "News about your error report",
                             "open": "Your error report was filed",
                             "acknowledged": "Your error report was acknowledged",
                             "resolved": "Your error report was confirmed",
                             "rejected": "Your error report was rejected"},
        },
        "reasons": {"published": "newly published", "now_matches": "now matches the scenario",
                    "changed": "changed", "deleted_upstream": "deleted at the source",
                    "no_longer_matches": "no longer matches the scenario",
                    "overdue": "not updated as often as announced",
                    "suggested": "resembles the scenario's members",
                    "open": "open", "acknowledged": "acknowledged",
                    "resolved": "resolved (error confirmed)", "rejected": "rejected"},
        "subject_immediate": "{prefix}{headline}: {title}",
        "subject_digest": "{prefix}Digest: {total}",
        "prefix": "[{name}] ",
        "digest_title": "Digest of changes",
        "immediate_intro": "A dataset you follow has news.",
        "intros": {"report.state": "There is news about the error report you sent.",
                   "dataset.feedback": "An error report on a dataset you follow has news.",
                   "bundle.ready": "The bundle you subscribed to is built and ready to download.",
                   "webhook.disabled": "We stopped sending messages to the endpoint below "
                                       "until you enable it again."},
        "bundle_files": "{files} files, {size} zipped",
        "bundle_files_one": "1 file, {size} zipped",
        "bundle_skipped": "{n} files left out (the README inside says why)",
        "bundle_skipped_one": "1 file left out (the README inside says why)",
        "bundle_changed": "only the files changed since the previous bundle",
        "bundle_expires": "can be downloaded until {when}",
        "bundle_download": "Download the bundle",
        "why": "Why",
        "disabled_asked": "the receiver answered HTTP {status}, asking us to stop",
        "disabled_asked_header": "the receiver asked us to stop with the header "
                                 "webhook-delivery: disable (HTTP {status})",
        "disabled_failing": "it kept failing for more than 5 days",
        "enable_how": "Once the receiver is fixed, enable it again: \"Enable\" on the endpoint's "
                      "page, or POST {api}",
        "recover_how": "Messages that failed meanwhile can be sent again with POST {api} "
                       "(body {{\"since\": \"…\"}})",
        "endpoint_page": "Open the endpoint's page",
        "digest_intro": "What changed in the data you follow since the last digest.",
        "total": "{total} changes",
        "total_one": "1 change",
        "sep": ", ",
        "list_sep": ", ",
        "colon": ": ",
        "no_scenario": "Single-dataset subscriptions",
        "untitled": "(untitled)",
        "version": "version {version}",
        "changes": "Changes",
        "because": "Matched because",
        "open": "Open the dataset",
        "api": "API",
        "more_changes": "… and {n} more changes",
        "more_changes_one": "… and 1 more change",
        "more_items": "{n} more changes are not listed here.",
        "more_items_one": "1 more change is not listed here.",
        "footer": "Sent automatically by subscribe; replies are not read.",
        "manage": "Manage subscriptions",
        "unsubscribe": "Unsubscribe from these e-mails",
        "fields": {
            "title": "Title", "description": "Description", "publisher": "Publisher",
            "themes": "Themes", "keywords": "Keywords", "formats": "Formats",
            "open_type": "Open type", "frequency": "Update frequency", "issued": "Issued",
            "modified": "Modified", "translations": "Translations", "landing_page": "Landing page",
            "license": "License", "contact_point": "Contact point", "record_count": "Record count",
            "distinguished_by": "Told apart by",
            "name": "Name", "format": "Format", "url": "Address", "size": "Size",
            "checksum": "Checksum",
        },
        "kinds": {
            "metadata": "Metadata changed", "content": "Content changed",
            "schema": "Columns changed", "resource_added": "Resource added",
            "resource_removed": "Resource removed",
            "resource_unavailable": "Resource unavailable",
            "resource_changed": "Resource changed", "overdue": "Overdue",
            "restored": "Dataset restored", "feedback": "Error report",
        },
        "restored": "available again",
        "rows": "rows {old} → {new}",
        "added_columns": "added columns {columns}",
        "removed_columns": "removed columns {columns}",
        "overdue": "due by {due} (update frequency: {frequency})",
        "status": "HTTP {status}",
        "pinned": "pinned to the scenario",
        "words": "words {words}",
        "phrases": "phrases {phrases}",
        "filters": "filters {filters}",
    },
}  # fmt: skip


def language(locale: str | None) -> str:
    """'en' for English locales (en, en-US, en_GB), otherwise 'zh' (the default)."""
    return "en" if (locale or "").strip().lower()[:2] == "en" else "zh"


@functools.cache
def environment() -> jinja2.Environment:
    """The e-mail templates' own environment: usable without a Flask app or request."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("subscribe", "notify/templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(
    kind: str,
    user_locale: str | None,
    items: Iterable[Mapping] | Mapping,
    scenario_name: str | None = None,
    base_url: str = "",
    *,
    timezone: str | None = None,
    unsubscribe_url: str | None = None,
) -> tuple[str, str, str]:
    """(subject, text, html) of an e-mail.

    kind "immediate": one event (`items` is that item or a list of one); "digest": many,
    grouped by scenario, then by event type, with counts per type. Items are shaped like
    the webhook payload's data (type, reason, scenario, dataset, changes, matched_because,
    created_at); whole webhook bodies (type, timestamp, data) are read the same way. Chinese unless `user_locale` is English. `base_url` completes relative
    dataset links and adds a "manage subscriptions" link. Times are shown in `timezone`
    (IANA; UTC when omitted). `unsubscribe_url` adds an unsubscribe link to the footer.
    """
    if kind not in ("immediate", "digest"):
        raise ValueError(f"Unknown kind: {kind!r} (immediate or digest)")
    entries = [items] if isinstance(items, Mapping) else list(items)
    if not entries:
        raise ValueError("Nothing to render: no items.")
    if kind == "immediate" and len(entries) != 1:
        raise ValueError(f"An immediate message is about one event, not {len(entries)}.")
    lang = language(user_locale)
    t = STRINGS[lang]
    base_url = base_url.rstrip("/")
    zone: tzinfo = ZoneInfo(timezone) if timezone else UTC
    views = [_item_view(entry, t, base_url, zone) for entry in entries]
    if scenario_name is None:
        names = {v["scenario_name"] for v in views}
        scenario_name = names.pop() if len(names) == 1 else None
    scenario_name = _oneline(scenario_name) if scenario_name else None
    prefix = t["prefix"].format(name=_short(scenario_name, 40)) if scenario_name else ""
    context: dict[str, Any] = {
        "t": t,
        "lang": t["lang"],
        "scenario_name": scenario_name,
        "base_url": base_url if _is_web_url(base_url) else "",
        "unsubscribe_url": unsubscribe_url
        if unsubscribe_url and _is_web_url(unsubscribe_url)
        else "",
    }
    if kind == "immediate":
        item = views[0]
        if item["type"] in t.get("intros", {}):  # not every message is about a subscription
            context["t"] = {**t, "immediate_intro": t["intros"][item["type"]]}
        subject = t["subject_immediate"].format(
            prefix=prefix, headline=item["headline"],
            title=_short(item["title"], MAX_TITLE_IN_SUBJECT),
        )  # fmt: skip
        context.update(subject=subject, item=item)
    else:
        counts = Counter(v["type"] for v in views)
        summary = _counts(counts, t)
        total = plural(t, "total", len(views))
        subject = t["subject_digest"].format(prefix=prefix, total=total)
        unlisted = max(0, len(views) - MAX_DIGEST_ITEMS)
        context.update(
            subject=subject,
            total=total,
            summary=summary,
            groups=_groups(views, t, MAX_DIGEST_ITEMS),
            unlisted=plural(t, "more_items", unlisted) if unlisted else "",
        )
    env = environment()
    text = env.get_template(f"email/{kind}.txt").render(context)
    html = env.get_template(f"email/{kind}.html").render(context)
    return subject, text, html


# --- Views: plain dicts the templates show as they are ---------------------------------


def _oneline(value: Any) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _short(value: Any, limit: int = MAX_TEXT) -> str:
    text = _oneline(value)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _is_web_url(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def _link(url: Any, base_url: str) -> str | None:
    """Only http(s) links (a harvested landing page could say javascript:…); relative
    links are completed with the base URL."""
    if not isinstance(url, str) or not url.strip():
        return None
    url = url.strip()
    if url.startswith("/") and not url.startswith("//") and _is_web_url(base_url):
        url = base_url + url
    return url if _is_web_url(url) and not any(c.isspace() for c in url) else None


def plural(t: dict, key: str, n: int) -> str:
    """t[key] with n filled in; t[key + "_one"] when n is 1 and the language has it."""
    template = t.get(f"{key}_one", t[key]) if n == 1 else t[key]
    return template.format(n=n, total=n)


def _counts(counts: Counter, t: dict) -> list[dict]:
    order = [*EVENT_ORDER, *sorted(set(counts) - set(EVENT_ORDER))]
    return [
        {"type": kind, "label": t["types"].get(kind, kind), "count": counts[kind]}
        for kind in order
        if counts[kind]
    ]


def _when(value: Any, zone: tzinfo) -> str:
    if not value:
        return ""
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return _short(value, 40)
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    local = at.astimezone(zone)
    label = "UTC" if zone is UTC else str(zone)
    return f"{local:%Y-%m-%d %H:%M} {label}"


def _item_data(item: Mapping) -> Mapping:
    """The payload's data with its type and time; a whole webhook body
    ({"type", "timestamp", "data": {...}}) is accepted as well."""
    if isinstance(item.get("data"), Mapping) and "dataset" not in item:
        return {"type": item.get("type"), "created_at": item.get("timestamp"), **item["data"]}
    return item


def _size(n: Any) -> str:
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        return "?"
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _notice(item: Mapping, kind: str, t: dict, base_url: str, zone: tzinfo) -> dict | None:
    """What a message about no dataset says instead (bundle.ready, webhook.disabled):
    {"title", "headline", "details": [lines], "links": [(label, url)]}; None otherwise."""
    if kind == "bundle.ready":
        bundle = item.get("bundle") if isinstance(item.get("bundle"), Mapping) else {}
        files = _count(bundle.get("file_count"))
        key = "bundle_files_one" if files == 1 and "bundle_files_one" in t else "bundle_files"
        details = [t[key].format(files=files, size=_size(bundle.get("size_bytes")))]
        if bundle.get("mode") == "changed":
            details.append(t["bundle_changed"])
        if skipped := _count(bundle.get("skipped_count")):
            details.append(plural(t, "bundle_skipped", skipped))
        if bundle.get("expires_at"):
            details.append(t["bundle_expires"].format(when=_when(bundle["expires_at"], zone)))
        download = _link(bundle.get("download_url"), base_url)
        return {"title": None, "headline": None, "details": details,
                "links": [(t["bundle_download"], download)] if download else []}  # fmt: skip
    if kind == "webhook.disabled":
        chat_robot = item.get("kind") not in (None, "", "webhook")
        status = _short(item.get("status"), 10) if item.get("status") is not None else "?"
        code = item.get("reason_code")
        if code == "receiver_asked":
            why = t["disabled_asked" if status == "410" else "disabled_asked_header"]
            why = why.format(status=status)
        elif code == "failing":
            why = t["disabled_failing"]
        else:  # older messages: the reason as stored
            why = _short(item.get("reason"), 300)
        details = [t["why"] + t["colon"] + why] if why else []
        if enable := _link(item.get("enable_url"), base_url):
            details.append(t["enable_how"].format(api=enable))
        if recover := _link(item.get("recover_url"), base_url):
            details.append(t["recover_how"].format(api=recover))
        page = _link(item.get("page_url"), base_url)
        headlines = t["headlines"]["webhook.disabled"]
        return {"title": _short(item.get("url"), MAX_TEXT) or None,
                "headline": headlines["chat" if chat_robot else ""], "details": details,
                "links": [(t["endpoint_page"], page)] if page else []}  # fmt: skip
    return None


def twin_title(title, dataset: Mapping):
    """ "公交站点 · 西山区" for a dataset with twins (its distinguished_by values), so a
    message tells them apart as the pages do (text.twin_title); the title as given
    otherwise."""
    return catalog_text.twin_title(title, dataset.get("distinguished_by"))


def _item_view(item: Mapping, t: dict, base_url: str, zone: tzinfo) -> dict:
    item = _item_data(item)
    dataset = item.get("dataset") or {}
    bundle = item.get("bundle") or {}  # bundle.ready: no dataset, a download link instead
    scenario = item.get("scenario") or None
    kind = str(item.get("type") or "")
    reason = str(item.get("reason") or "")
    headlines = t["headlines"].get(kind, {})
    changes = [_change(c, t) for c in item.get("changes") or [] if isinstance(c, Mapping)]
    more_changes = max(0, len(changes) - MAX_CHANGES_LISTED)
    notice = _notice(item, kind, t, base_url, zone) or {}
    if kind == "webhook.disabled":
        reason = ""  # said in words among the details
    return {
        "type": kind,
        "type_label": t["types"].get(kind, kind),
        "headline": notice.get("headline") or headlines.get(reason) or headlines.get("") or kind,
        "reason": t["reasons"].get(reason, reason),
        "details": notice.get("details", []),
        "links": notice.get("links", []),
        "title": notice.get("title")
        or _short(twin_title(dataset.get("title"), dataset) or item.get("title"), MAX_TEXT)
        or t["untitled"],
        "version": dataset.get("version"),
        "version_label": (
            t["version"].format(version=_short(dataset["version"], 20))
            if dataset.get("version") is not None
            else ""
        ),
        # "Open the dataset": a notice's own links say what they open instead.
        "url": _link(dataset.get("url"), base_url)
        if notice
        else _link(dataset.get("url") or bundle.get("download_url"), base_url),
        "api_url": _link(dataset.get("api_url"), base_url),
        # What the title links to: the dataset's page, else its API document.
        "link": _link(dataset.get("url"), base_url)
        or _link(dataset.get("api_url"), base_url)
        or _link(bundle.get("download_url"), base_url),
        "scenario_id": scenario.get("id") if scenario else None,
        "scenario_name": _oneline(scenario.get("name")) if scenario else None,
        "changes": changes[:MAX_CHANGES_LISTED],
        "more_changes": plural(t, "more_changes", more_changes) if more_changes else "",
        "because": _because(item.get("matched_because"), t),
        "when": _when(item.get("created_at"), zone),
        "sort": str(item.get("created_at") or ""),
    }


def _names(values: Any, t: dict, limit: int = 8) -> str:
    if isinstance(values, Mapping):
        values = list(values)
    if not isinstance(values, list | tuple):
        return _short(values)
    shown = [_short(v, 60) for v in values[:limit]]
    more = "…" if len(values) > limit else ""
    return _short(t["list_sep"].join(shown) + more)


def _resource_name(change: Mapping) -> str:
    resource = change.get("resource") if isinstance(change.get("resource"), Mapping) else {}
    for value in (change.get("name"), resource.get("name"), change.get("key"),
                  change.get("url"), resource.get("url")):  # fmt: skip
        if value:
            return _short(value, 100)
    return ""


def _change(change: Mapping, t: dict) -> str:
    """One line about one change, from what the change says (kinds of PRODUCT.md)."""
    kind = str(change.get("kind") or "")
    label = t["kinds"].get(kind, kind)
    details: list[str] = []
    if kind == "metadata":
        if change.get("key"):  # a file's own details: its name (older changes: its id)
            details.append(_resource_name(change))
        if change.get("fields"):
            details.append(_names(_field_names(change["fields"], t), t))
    elif kind == "overdue":
        details.append(
            t["overdue"].format(
                due=_short(str(change.get("due", ""))[:16].replace("T", " "), 20),
                frequency=_short(change.get("frequency", ""), 30),
            )
        )
    elif kind == "feedback":  # 数据纠错: its state and the operator's reason
        state = str(change.get("state") or "")
        details.append(f"#{_short(change.get('report_id'), 12)} " + t["reasons"].get(state, state))
        if change.get("note"):
            details.append(_short(change["note"], 400))
    elif kind != "restored":
        name = _resource_name(change)
        if name:
            details.append(name)
        if change.get("restored"):
            details.append(t["restored"])
        if change.get("status"):
            details.append(t["status"].format(status=_short(change["status"], 10)))
        rows = change.get("rows")
        if isinstance(rows, Mapping) and rows.get("old") != rows.get("new"):
            details.append(t["rows"].format(old=rows.get("old"), new=rows.get("new")))
        if change.get("added"):
            details.append(t["added_columns"].format(columns=_names(change["added"], t)))
        if change.get("removed"):
            details.append(t["removed_columns"].format(columns=_names(change["removed"], t)))
    return label + (t["colon"] + t["sep"].join(details) if details else "")


def change_line(change: Mapping, locale: str | None = None) -> str:
    """One change (a PRODUCT.md change dict) as one line in the locale's language, as
    e-mails list it: "内容变化：空气质量日报（CSV），行数 99 → 147"."""
    return _change(change, STRINGS[language(locale)])


def because_line(because: Any, locale: str | None = None) -> str:
    """Why a dataset matched (matched_because) as one line: "关键词 空气质量、空气"; "" if none."""
    return _because(because, STRINGS[language(locale)])


def reason_text(reason: str, locale: str | None = None) -> str:
    """An event's reason ("changed", "now_matches", …) in words; the code if unknown."""
    return STRINGS[language(locale)]["reasons"].get(reason, reason)


def _field_names(fields: Any, t: dict) -> list[str]:
    """Changed fields in words (the same labels as the pages); a date's or frequency's
    companions (`modified_raw`, `modified_precision`) go with it, not on their own."""
    names = [str(f) for f in (list(fields) if isinstance(fields, Mapping | list | tuple) else [])]
    shown = [
        f
        for f in names
        if not (f.endswith(("_raw", "_precision")) and f.rsplit("_", 1)[0] in names)
    ]
    return [t["fields"].get(f, f.replace("_", " ")) for f in shown]


def _because(because: Any, t: dict) -> str:
    if not isinstance(because, Mapping) or not because:
        return ""
    if because.get("pinned"):
        return t["pinned"]
    suggested = because.get("suggested")  # dataset.suggested: its reason in both languages
    if isinstance(suggested, Mapping):
        return _short(suggested.get("en" if t["lang"] == "en" else "zh", ""), 400)
    parts = []
    if because.get("words"):
        parts.append(t["words"].format(words=_names(because["words"], t)))
    if because.get("phrases"):
        quoted = [f"“{_short(p, 60)}”" for p in because["phrases"][:8]]
        parts.append(t["phrases"].format(phrases=t["list_sep"].join(quoted)))
    filters = because.get("filters")
    if isinstance(filters, Mapping) and filters:
        shown = [f"{_short(k, 30)}={_names(v, t)}" for k, v in list(filters.items())[:8]]
        parts.append(t["filters"].format(filters="; ".join(shown)))
    return _short(t["sep"].join(parts), 400)


def _groups(views: list[dict], t: dict, budget: int) -> list[dict]:
    """By scenario (named ones by name, then single-dataset subscriptions), then by type.
    Counts cover every item; only the first `budget` items (in that order) are listed."""
    by_scenario: dict[Any, list[dict]] = {}
    for view in views:
        by_scenario.setdefault((view["scenario_id"], view["scenario_name"]), []).append(view)
    ordered = sorted(
        by_scenario.items(),
        key=lambda kv: (kv[0][0] is None, kv[0][1] or "", kv[0][0] or 0),
    )
    groups = []
    for (scenario_id, name), members in ordered:
        counts = Counter(v["type"] for v in members)
        types = []
        for entry in _counts(counts, t):
            listed = [v for v in members if v["type"] == entry["type"]]
            listed.sort(key=lambda v: (v["sort"], v["title"]))
            listed, budget = listed[: max(0, budget)], budget - len(listed)
            types.append({**entry, "entries": listed})
        groups.append({
            "id": scenario_id,
            "name": name or t["no_scenario"],
            "total": len(members),
            "types": types,
        })  # fmt: skip
    return groups


def notice_line(item: Mapping, locale: str | None = None) -> str:
    """One line saying a message about no dataset (webhook.disabled) as its e-mail does:
    the subject, then the first detail ("Webhook 端点已停用：URL，停用原因：接收端答复
    HTTP 410，要求停止发送"), Chinese unless `locale` is English. For inbox titles."""
    t = STRINGS[language(locale)]
    view = _item_view(item, t, "", UTC)
    line = t["subject_immediate"].format(prefix="", headline=view["headline"],
                                         title=view["title"] or "")  # fmt: skip
    return line + (t["sep"] + view["details"][0] if view["details"] else "")


def item_view(item: Mapping, locale: str | None = None, base_url: str = "",
              timezone: str | None = None) -> dict:  # fmt: skip
    """One item (a webhook body or its data) as e-mails show it, for other channels (chat):
    {"type", "type_label", "headline", "reason", "title", "version_label", "changes": [str],
    "more_changes", "because", "when", "scenario_id", "scenario_name", "link", …}; Chinese
    unless `locale` is English, times in `timezone` (UTC when omitted)."""
    zone: tzinfo = ZoneInfo(timezone) if timezone else UTC
    return _item_view(item, STRINGS[language(locale)], base_url.rstrip("/"), zone)
