"""A suggestion's reasons in words, Chinese and English.

Both languages are rendered here (not through the page's gettext) because the API and
pushed messages carry both: "与 3 个成员同属 市生态环境局，标题相似：空气质量" /
"same publisher as 3 members (市生态环境局); similar titles: 空气质量".
"""

from __future__ import annotations

KEY_NAMES = {
    "zh": {"cn_admin_code": "行政区划代码", "cn_uscc": "统一社会信用代码", "date": "日期",
           "year": "年份", "cn_id_card": "身份证号", "postal_code": "邮政编码"},
    "en": {"cn_admin_code": "administrative division code", "cn_uscc": "unified social credit code",
           "date": "date", "year": "year", "cn_id_card": "ID card number",
           "postal_code": "postal code"},
}  # fmt: skip

STRINGS = {
    "zh": {
        "publisher": "与 {n} 个成员同属 {publisher}",
        "title": "标题相似：{terms}",
        "text": "描述相近：{terms}",
        "theme": "与 {n} 个成员同属主题 {theme}",
        "join_keys": "可与 {n} 个成员按 {keys} 关联",
        "sep": "，",
        "list_sep": "、",
        "none": "与场景成员相似",
    },
    "en": {
        "publisher": "same publisher as {n} members ({publisher})",
        "publisher_one": "same publisher as 1 member ({publisher})",
        "title": "similar titles: {terms}",
        "text": "similar descriptions: {terms}",
        "theme": "same theme as {n} members ({theme})",
        "theme_one": "same theme as 1 member ({theme})",
        "join_keys": "joins {n} members on {keys}",
        "join_keys_one": "joins 1 member on {keys}",
        "sep": "; ",
        "list_sep": ", ",
        "none": "resembles the scenario's members",
    },
}  # fmt: skip


def render(reasons: list[dict], lang: str) -> str:
    """One line in `lang` ("zh" or "en"; anything else reads as Chinese)."""
    lang = "en" if lang == "en" else "zh"
    t = STRINGS[lang]
    parts = []
    for reason in reasons:
        kind = reason.get("kind")
        n = reason.get("members", 0)
        template = t.get(f"{kind}_one", t.get(kind)) if n == 1 else t.get(kind)
        if template is None:
            continue
        keys = [KEY_NAMES[lang].get(k, k) for k in reason.get("join_keys", ())]
        parts.append(template.format(
            n=n, publisher=reason.get("publisher", ""), theme=reason.get("theme", ""),
            terms=t["list_sep"].join(reason.get("terms", ())), keys=t["list_sep"].join(keys),
        ))  # fmt: skip
    return t["sep"].join(parts) or t["none"]


def both(reasons: list[dict]) -> dict[str, str]:
    """{"zh": …, "en": …}."""
    return {"zh": render(reasons, "zh"), "en": render(reasons, "en")}
