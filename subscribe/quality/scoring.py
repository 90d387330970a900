"""The quality rules: criteria, weights and the vectorized scoring of a chunk of datasets.

Three axes, each 0–100 (None when nothing on the axis can be judged yet):

完整性 completeness — metadata a re-user needs. Weights (sum 100):
    title 10, description of useful length 15, publisher 10, themes 10, keywords 10,
    license 10, contact point 10, declared update frequency 10,
    a resource with a downloadable (http/https) URL 10, every resource states a format 5.
    What harvesting cannot know is not punished: a field that no live dataset of the
    same source has (the catalog does not publish it, or its format cannot carry it) is
    "not assessed" for that source, and the score is met weight / assessed weight.
    Title and a downloadable resource are always assessed.

及时性 timeliness — the declared frequency against the observed updates. Each day's
    value is 100 while the last update (the end of the period `modified` names, else the
    last change we observed), as of 00:00 UTC of the day, is within the frequency's
    allowed gap (catalog/freshness.py, the rule overdue alerts use), then falls linearly to 0 over one more period. The
    score blends each day into the history as transport.data.gouv.fr does:
    score = 0.9·past + 0.1·today, once per day the job runs (a second run on the same
    day blends from the same past, so runs are idempotent; stored to 0.01). Not assessed
    without a declared frequency or any date.

准确性 accuracy — resources answer (50: share of checked resources whose last check
    succeeded, catalog/checks.py), content schema stable (25: no CSV column change in 90
    days, half for one), no confirmed error reports (25: none, half for one; reports in
    state `resolved` from subscribe.feedback). None while no resource has been checked
    and no error confirmed.

overall — the mean of the axes that have a score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from subscribe.catalog.freshness import PERIOD_SECONDS, allowed_gap
from subscribe.catalog.records import FREQUENCIES

PAST_WEIGHT = 0.9  # per day, transport.data.gouv.fr's blend
DESCRIPTION_MIN = 20  # characters: shorter says nothing the title does not
SCHEMA_WINDOW_DAYS = 90
ON_TIME_HISTORY_MIN = 80  # smoothed timeliness below this: "kept on time" not met


@dataclass(frozen=True)
class Criterion:
    bit: int
    key: str
    axis: str
    weight: int
    label_en: str
    label_zh: str
    fix_en: str
    fix_zh: str


CRITERIA = (
    Criterion(0, "title", "completeness", 10, "Title", "标题",
              "Give the dataset a title of at least 4 characters.", "填写不少于4个字的数据集名称。"),
    Criterion(1, "description", "completeness", 15, "Description of useful length", "有实际内容的描述",
              f"Describe the data in at least {DESCRIPTION_MIN} characters (not just the title again).",
              f"用不少于{DESCRIPTION_MIN}个字描述数据内容（不要只重复标题）。"),
    Criterion(2, "publisher", "completeness", 10, "Publisher", "发布单位",
              "Name the publishing organisation.", "填写数据发布单位。"),
    Criterion(3, "themes", "completeness", 10, "Themes", "主题分类",
              "Assign at least one theme.", "至少选择一个主题分类。"),
    Criterion(4, "keywords", "completeness", 10, "Keywords", "关键词",
              "Add keywords people search for.", "添加便于检索的关键词。"),
    Criterion(5, "license", "completeness", 10, "License", "使用许可",
              "State the license or terms of use.", "注明使用许可或使用条件。"),
    Criterion(6, "contact_point", "completeness", 10, "Contact point", "联系方式",
              "Give a contact (e-mail or phone) for questions.", "提供咨询联系方式（邮箱或电话）。"),
    Criterion(7, "frequency", "completeness", 10, "Declared update frequency", "更新频率",
              "Declare how often the data is updated.", "声明数据的更新频率。"),
    Criterion(8, "download", "completeness", 10, "A downloadable resource", "可下载的数据资源",
              "Publish at least one file with a direct http(s) download URL.",
              "至少提供一个可直接下载（http/https 链接）的数据文件。"),
    Criterion(9, "formats", "completeness", 5, "Every resource states its format", "资源标明格式",
              "State the format (CSV, JSON, …) of every resource.", "为每个资源标明格式（CSV、JSON 等）。"),
    Criterion(10, "on_time", "timeliness", 50, "Updated as often as declared", "按声明频率更新",
              "Update the data (and its modified date) as often as the declared frequency says, "
              "or declare the frequency it really has.",
              "按声明的频率更新数据（及更新日期），或改为实际的更新频率。"),
    Criterion(11, "kept_on_time", "timeliness", 50, "Kept on time over recent days", "近期持续按时更新",
              f"Stay on time: the day-by-day score recovers as on-time days add up (below {ON_TIME_HISTORY_MIN} now).",
              f"保持按时更新：按日平滑的分数会随按时的天数逐步回升（目前低于{ON_TIME_HISTORY_MIN}）。"),
    Criterion(12, "resources_answer", "accuracy", 50, "Resources answer", "资源可访问",
              "Fix the resource URLs that fail (errors or no answer at our last checks).",
              "修复无法访问的资源链接（最近检查时出错或无响应）。"),
    Criterion(13, "schema_stable", "accuracy", 25, "Content schema stable", "数据结构稳定",
              f"Keep the columns of the files stable (changed in the last {SCHEMA_WINDOW_DAYS} days).",
              f"保持数据文件的列结构稳定（最近{SCHEMA_WINDOW_DAYS}天内有变化）。"),
    Criterion(14, "no_confirmed_errors", "accuracy", 25, "No confirmed error reports", "无已确认的数据纠错",
              "Correct the errors users reported and the publisher confirmed.",
              "更正用户报告并经确认的数据错误。"),
)  # fmt: skip
BY_KEY = {c.key: c for c in CRITERIA}
BY_AXIS = {
    axis: [c for c in CRITERIA if c.axis == axis]
    for axis in ("completeness", "timeliness", "accuracy")
}
# Completeness criteria that a source may not be able to carry (see module docstring).
SOURCE_DEPENDENT = ("description", "publisher", "themes", "keywords", "license",
                    "contact_point", "frequency", "formats")  # fmt: skip

FREQUENCY_ORDINAL = {name: i for i, name in enumerate(FREQUENCIES)}
_GAP = np.full(len(FREQUENCIES), -1, dtype=np.int64)
_PERIOD = np.full(len(FREQUENCIES), -1, dtype=np.int64)
for _name, _i in FREQUENCY_ORDINAL.items():
    if _name in PERIOD_SECONDS:
        _GAP[_i] = allowed_gap(_name)
        _PERIOD[_i] = PERIOD_SECONDS[_name]
DECLARED = np.array([name not in ("unknown", "") for name in FREQUENCIES])


@dataclass
class Chunk:
    """Inputs for n datasets, one array each (built by job.py from set-based queries)."""

    source_present: np.ndarray  # (n, len(SOURCE_DEPENDENT)) bool: the source carries the field
    title_len: np.ndarray
    description_len: np.ndarray
    description_is_title: np.ndarray
    publisher: np.ndarray  # bool: present
    themes: np.ndarray
    keywords: np.ndarray
    license: np.ndarray
    contact_point: np.ndarray
    frequency: np.ndarray  # ordinal in FREQUENCIES
    last_update: np.ndarray  # epoch seconds of the last observed update; -1 none
    resources: np.ndarray  # count
    with_format: np.ndarray
    downloadable: np.ndarray
    checked: np.ndarray
    answering: np.ndarray
    schema_changes: np.ndarray
    confirmed_reports: np.ndarray
    before: np.ndarray  # smoothed timeliness before today (NaN: no past)


@dataclass
class Scores:
    completeness: np.ndarray  # int
    timeliness: np.ndarray  # float, NaN = none
    timeliness_today: np.ndarray  # float, NaN = none
    accuracy: np.ndarray  # float, NaN = none
    overall: np.ndarray  # float, NaN = none
    unmet: np.ndarray  # int64 bitmask
    skipped: np.ndarray  # int64 bitmask


def _bit(key: str) -> np.int64:
    return np.int64(1) << np.int64(BY_KEY[key].bit)


def score(chunk: Chunk, now: float) -> Scores:
    """Every axis for every dataset of the chunk; `now` in epoch seconds."""
    n = len(chunk.title_len)
    unmet = np.zeros(n, dtype=np.int64)
    skipped = np.zeros(n, dtype=np.int64)

    # --- completeness -------------------------------------------------------------
    met = {
        "title": chunk.title_len >= 4,
        "description": (chunk.description_len >= DESCRIPTION_MIN) & ~chunk.description_is_title,
        "publisher": chunk.publisher,
        "themes": chunk.themes,
        "keywords": chunk.keywords,
        "license": chunk.license,
        "contact_point": chunk.contact_point,
        "frequency": DECLARED[chunk.frequency],
        "download": chunk.downloadable > 0,
        "formats": (chunk.resources > 0) & (chunk.with_format == chunk.resources),
    }
    earned = np.zeros(n, dtype=np.float64)
    possible = np.zeros(n, dtype=np.float64)
    for criterion in BY_AXIS["completeness"]:
        ok = met[criterion.key]
        assessed = np.ones(n, dtype=bool)
        if criterion.key in SOURCE_DEPENDENT:
            assessed = chunk.source_present[:, SOURCE_DEPENDENT.index(criterion.key)]
        bit = _bit(criterion.key)
        unmet |= np.where(assessed & ~ok, bit, 0)
        skipped |= np.where(~assessed, bit, 0)
        earned += np.where(assessed & ok, criterion.weight, 0)
        possible += np.where(assessed, criterion.weight, 0)
    completeness = np.rint(100 * earned / np.maximum(possible, 1)).astype(np.int64)

    # --- timeliness ---------------------------------------------------------------
    gap = _GAP[chunk.frequency]
    period = _PERIOD[chunk.frequency]
    judged = (gap >= 0) & (chunk.last_update >= 0)
    late_by = now - (chunk.last_update + gap)
    today = np.where(
        late_by <= 0, 100.0, 100.0 * np.clip(1 - late_by / np.maximum(period, 1), 0, 1)
    )
    today = np.where(judged, today, np.nan)
    has_past = ~np.isnan(chunk.before)
    blended = PAST_WEIGHT * np.nan_to_num(chunk.before) + (1 - PAST_WEIGHT) * today
    timeliness = np.round(np.where(has_past, blended, today), 2)
    timeliness = np.where(judged, timeliness, np.nan)
    for key, ok in (("on_time", today >= 100), ("kept_on_time", timeliness >= ON_TIME_HISTORY_MIN)):
        unmet |= np.where(judged & ~ok, _bit(key), 0)
        skipped |= np.where(~judged, _bit(key), 0)

    # --- accuracy -----------------------------------------------------------------
    checked = chunk.checked > 0
    answer_share = chunk.answering / np.maximum(chunk.checked, 1)
    schema = np.select([chunk.schema_changes == 0, chunk.schema_changes == 1], [1.0, 0.5], 0.0)
    reports = np.select(
        [chunk.confirmed_reports == 0, chunk.confirmed_reports == 1], [1.0, 0.5], 0.0
    )
    has_reports = chunk.confirmed_reports > 0
    accuracy = np.where(
        checked,
        50 * answer_share + 25 * schema + 25 * reports,
        np.where(has_reports, reports * 100, np.nan),
    )
    for key, ok, assessed in (
        ("resources_answer", answer_share >= 1, checked),
        ("schema_stable", schema >= 1, checked),
        ("no_confirmed_errors", reports >= 1, checked | has_reports),
    ):
        unmet |= np.where(assessed & ~ok, _bit(key), 0)
        skipped |= np.where(~assessed, _bit(key), 0)

    axes = np.vstack([completeness.astype(np.float64), timeliness, accuracy])
    counted = (~np.isnan(axes)).sum(axis=0)
    overall = np.where(counted > 0, np.nansum(axes, axis=0) / np.maximum(counted, 1), np.nan)
    return Scores(completeness, timeliness, today, accuracy, overall, unmet, skipped)


def checklist(unmet: int, skipped: int) -> dict[str, list[dict]]:
    """Per axis: [{key, label_en, label_zh, weight, status: met|unmet|not_assessed,
    fix_en, fix_zh}] from the stored bitmasks."""
    result: dict[str, list[dict]] = {}
    for axis, criteria in BY_AXIS.items():
        items = []
        for c in criteria:
            if skipped >> c.bit & 1:
                status = "not_assessed"
            elif unmet >> c.bit & 1:
                status = "unmet"
            else:
                status = "met"
            items.append({"key": c.key, "weight": c.weight, "status": status,
                          "label_en": c.label_en, "label_zh": c.label_zh,
                          "fix_en": c.fix_en, "fix_zh": c.fix_zh})  # fmt: skip
        result[axis] = items
    return result
