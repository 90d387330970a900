"""Other views of the same catalog: the Chinese tabular export, DCAT-US data.json, HTML pages."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterator

from subscribe.demo.catalog import DemoCatalog, from_us
from subscribe.demo.changes import ChangeFeed, LiveDataset, resolve
from subscribe.demo.ckan import BASE, dumps, resource_url
from subscribe.demo.content import MIMETYPES
from subscribe.demo.query import everything
from subscribe.demo.vocab import FREQUENCY_TEXTS, PORTAL_TITLE

# fmt: off
# Header names as real portals' exports write them (not the synonyms of any one list):
# the tabular harvester recognises them by rule (harvesters/tabular_headers.py).
CSV_COLUMNS = (
    "序号", "资源名称", "资源提供方", "数据主题", "更新周期", "开放状态",
    "资源格式", "上架日期", "数据更新时间", "详情页网址", "下载地址",
)
_ACCESS_LEVELS = {"无条件开放": "public", "有条件开放": "restricted public", "依申请开放": "restricted public"}
_RHYTHM_ISO = {"D": "R/P1D", "W": "R/P1W", "M": "R/P1M", "Q": "R/P3M", "Y": "R/P1Y", "B": "R/P2Y", "I": "irregular"}
# fmt: on
_ACCRUAL = {
    text: _RHYTHM_ISO.get(rhythm, "R/PT1S")
    for rhythm, texts in FREQUENCY_TEXTS.items()
    for text in texts
}
_ACCRUAL.update({"每小时": "R/PT1H", "其他": "irregular"})


def live_datasets(catalog: DemoCatalog, feed: ChangeFeed) -> Iterator[LiveDataset]:
    """Every live dataset in id order, from one consistent snapshot."""
    snap = feed.snapshot
    for index in everything(catalog, snap).iter_from(0, False):
        yield resolve(catalog, snap, index)


def _formats(live: LiveDataset) -> list[str]:
    return list(dict.fromkeys(r.spec.format for r in live.resources))


def catalog_csv(catalog: DemoCatalog, feed: ChangeFeed) -> Iterator[str]:
    """The 开放目录 export, UTF-8 with BOM as Excel-minded portals publish it."""
    out = io.StringIO()
    writer = csv.writer(out)
    out.write("\ufeff")
    writer.writerow(CSV_COLUMNS)
    for n, live in enumerate(live_datasets(catalog, feed)):
        formats = _formats(live)
        # Both notations real portals use: "[csv,json]" and "CSV、JSON".
        notation = f"[{','.join(f.lower() for f in formats)}]" if n % 2 else "、".join(formats)
        first = resource_url(live.base.id, live.resources[0]) if live.resources else ""
        writer.writerow(
            (
                n + 1,
                live.title,
                live.base.department.name,
                "、".join(live.base.themes),
                live.frequency,
                live.base.open_type,
                notation,
                from_us(live.issued_us).strftime("%Y-%m-%d"),
                from_us(live.modified_us).strftime("%Y-%m-%d %H:%M:%S"),
                f"{BASE}/dataset/{live.base.name}",
                first,
            )
        )
        if n % 200 == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def dcat_dataset(live: LiveDataset) -> dict:
    ds = live.base
    record = {
        "@type": "dcat:Dataset",
        "identifier": ds.id,
        "title": live.title,
        "description": live.notes,
        "keyword": list(live.keywords),
        "issued": from_us(live.issued_us).date().isoformat(),
        "modified": from_us(live.modified_us).isoformat() + "Z",
        "publisher": {"@type": "org:Organization", "name": ds.department.name},
        "contactPoint": {
            "@type": "vcard:Contact",
            "fn": ds.department.name,
            "hasEmail": f"mailto:opendata@{ds.department.code}.shilishi.example",
        },
        "accessLevel": _ACCESS_LEVELS[ds.open_type],
        "landingPage": f"{BASE}/dataset/{ds.name}",
        "license": ds.license[2] if ds.license[2].startswith("http") else BASE + ds.license[2],
        "spatial": ds.region,
        "theme": list(ds.themes),
        "language": ["zh-CN"],
        "distribution": [_distribution(live, res) for res in live.resources],
    }
    if live.frequency in _ACCRUAL:
        record["accrualPeriodicity"] = _ACCRUAL[live.frequency]
    return record


def _distribution(live: LiveDataset, res) -> dict:
    url_key = "accessURL" if res.spec.format == "API" else "downloadURL"
    return {
        "@type": "dcat:Distribution",
        "title": res.spec.name,
        url_key: resource_url(live.base.id, res),
        "mediaType": MIMETYPES[res.spec.format],
        "format": res.spec.format,
    }


def data_json(catalog: DemoCatalog, feed: ChangeFeed) -> Iterator[str]:
    """DCAT-US 1.1 (Project Open Data) catalog, streamed: it can hold 345,853 datasets."""
    yield (
        '{"@context": "https://project-open-data.cio.gov/v1.1/schema/catalog.jsonld", '
        f'"@id": "{BASE}/data.json", "@type": "dcat:Catalog", '
        '"conformsTo": "https://project-open-data.cio.gov/v1.1/schema", '
        '"describedBy": "https://project-open-data.cio.gov/v1.1/schema/catalog.json", "dataset": ['
    )
    for n, live in enumerate(live_datasets(catalog, feed)):
        yield ("," if n else "") + dumps(dcat_dataset(live))
    yield "]}"


_STYLE = "body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:.2em .6em;text-align:left}"


def index_html(catalog: DemoCatalog, feed: ChangeFeed) -> str:
    """A landing page for a person: what is here, what changed, where the APIs are."""
    snap = feed.snapshot
    esc = html.escape
    rows = "".join(
        f"<tr><td>{c['tick']}</td><td>{c['at']}</td><td>{c['kind']}</td>"
        f"<td><a href='{BASE}/dataset/{esc(c.get('dataset_name', ''))}'>{esc(c.get('title', ''))}</a></td>"
        f"<td>{esc(c.get('organization', ''))}</td></tr>"
        for c in feed.history()[:20]
    )
    every = f"每 {feed.tick_seconds:g} 秒一次变更" if feed.tick_seconds > 0 else "自动变更已关闭"
    links = (
        (
            "/api/3/action/package_search?rows=10&sort=metadata_modified+desc",
            "package_search（最新）",
        ),
        ("/api/3/action/package_search?rows=1000&sort=id+asc", "package_search（按 id 分页）"),
        ("/api/3/action/package_list", "package_list"),
        ("/api/3/action/organization_list?all_fields=true", "organization_list"),
        ("/api/3/action/status_show", "status_show"),
        ("/catalog.csv", "开放目录 catalog.csv"),
        ("/data.json", "DCAT-US data.json"),
        ("/_demo/changes", "变更记录 JSON"),
    )
    items = "".join(f"<li><a href='{BASE}{href}'>{esc(text)}</a></li>" for href, text in links)
    return (
        f"<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>{PORTAL_TITLE}</title>"
        f"<style>{_STYLE}</style><h1>{PORTAL_TITLE}（演示）</h1>"
        f"<p>CKAN 兼容的演示门户：{snap.total - len(snap.removed)} 个数据集，"
        f"已发生 {snap.version} 次变更（{every}，下一次：{feed.next_kind()}）。</p>"
        f"<ul>{items}</ul>"
        f"<form method='post' action='{BASE}/_demo/tick'><button>立即产生一次变更</button></form>"
        f"<h2>最近变更</h2><table><tr><th>#</th><th>时间 (UTC)</th><th>类型</th><th>数据集</th><th>数源单位</th></tr>{rows}</table>"
    )


def dataset_html(live: LiveDataset) -> str:
    """The 详情页 the exports link to."""
    esc = html.escape
    ds = live.base
    facts = (
        ("数源单位", ds.department.name),
        ("数据领域", "、".join(ds.themes)),
        ("开放属性", ds.open_type),
        ("更新周期", live.frequency or "—"),
        ("区域", ds.region),
        ("关键词", "、".join(live.keywords)),
        ("发布时间", from_us(live.issued_us).date().isoformat()),
        ("更新时间", from_us(live.modified_us).isoformat(sep=" ", timespec="seconds")),
        ("许可协议", ds.license[1]),
    )
    table = "".join(f"<tr><th>{k}</th><td>{esc(v)}</td></tr>" for k, v in facts)
    files = "".join(
        f"<li><a href='{resource_url(ds.id, r)}'>{esc(r.spec.name)}</a> ({r.spec.format})</li>"
        for r in live.resources
    )
    return (
        f"<!doctype html><html lang='zh-CN'><meta charset='utf-8'><title>{esc(live.title)}</title>"
        f"<style>{_STYLE}</style><p><a href='{BASE}/'>{PORTAL_TITLE}</a></p>"
        f"<h1>{esc(live.title)}</h1><p>{esc(live.notes)}</p><table>{table}</table>"
        f"<h2>数据资源</h2><ul>{files}</ul>"
        f"<p><a href='{BASE}/api/3/action/package_show?id={ds.id}'>package_show</a></p>"
    )
