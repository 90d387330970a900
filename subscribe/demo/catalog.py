"""A deterministic, lazily generated catalog of Chinese government datasets for the demo portal."""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from subscribe.demo import content
from subscribe.demo.vocab import (
    DEPARTMENTS,
    FREQUENCY_TEXTS,
    JUNK_FREQUENCIES,
    LICENSES,
    OPEN_TYPES,
    REGIONS,
    THEMES,
    USES,
    Department,
    Subject,
)

_NAMESPACE = uuid.UUID("5b0c6a52-7f0e-4a51-9d1e-3c4c1f6f2a10")
_MASK = (1 << 64) - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_US = 1_000_000


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch (integers keep ordering and range filters exact)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * _US + delta.microseconds


def from_us(value: int) -> datetime:
    """Naive UTC datetime, as CKAN stores and prints metadata times."""
    return _NAIVE_EPOCH + timedelta(microseconds=value)


def uuid5_str(name: str) -> str:
    """str(uuid.uuid5(namespace, name)) without the UUID object (a hot path at 345,853 datasets)."""
    digest = hashlib.sha1(_NAMESPACE.bytes + name.encode("utf-8")).hexdigest()
    variant = "89ab"[int(digest[16], 16) & 3]
    return f"{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-{variant}{digest[17:20]}-{digest[20:32]}"


BASE_START_US = to_us(datetime(2019, 1, 1))
BASE_END_US = to_us(datetime(2024, 12, 31))  # every base dataset was modified before this
_EARLIEST_ISSUED_US = to_us(datetime(2016, 1, 1))
_YEAR_US = 365 * 86400 * _US


def mix(*parts: int) -> int:
    """A fast 64-bit hash of integers (splitmix64 steps); cheap enough to call per dataset."""
    x = 0x9E3779B97F4A7C15
    for part in parts:
        x = (x ^ (part & _MASK)) * 0xBF58476D1CE4E5B9 & _MASK
        x = (x ^ (x >> 30)) * 0x94D049BB133111EB & _MASK
        x ^= x >> 31
    return x


# Zipf-like: a few departments publish most datasets, as on real portals.
_DEPT_CUMULATIVE = tuple(
    sum(1 / (rank + 1) for rank in range(upto + 1)) for upto in range(len(DEPARTMENTS))
)


_OPEN_TYPE_NAMES = tuple(name for name, _ in OPEN_TYPES)
_OPEN_TYPE_CUM = tuple(itertools.accumulate(weight for _, weight in OPEN_TYPES))
_FIRST_FORMATS = ("CSV", "XLSX", "JSON", "API", "XML")


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    slot: int
    id: str
    name: str
    format: str
    created_us: int
    modified_us: int


@dataclass(frozen=True, slots=True)
class DemoDataset:
    """One dataset as first published; changes are overlays kept by the change feed."""

    index: int
    id: str
    name: str
    title: str
    notes: str
    department: Department
    subject: Subject
    themes: tuple[str, ...]
    keywords: tuple[str, ...]
    region: str
    open_type: str
    frequency: str
    license: tuple[str, str, str]
    issued_us: int
    created_us: int
    modified_us: int
    year: int
    resources: tuple[ResourceSpec, ...]
    traditional: bool

    @property
    def label(self) -> str:
        """The subject without year or region: 空气质量日报."""
        return self.subject.title.replace("{Y}年", "").replace("{R}", "")


class DemoCatalog:
    """`size` datasets generated on demand from `seed`; dataset i costs O(1) to produce.

    Ids are UUID-shaped with the zero-padded hex index first, and names start with the
    zero-padded index, so both sort in index order without listing the catalog.
    """

    def __init__(self, size: int = 600, seed: int = 20240601, exact_sizes: bool | None = None):
        self.size = size
        self.seed = seed
        # Resource sizes need the file rendered; affordable for a demo, not for 345,853.
        self.exact_sizes = size <= 5000 if exact_sizes is None else exact_sizes
        self._step_us = (BASE_END_US - BASE_START_US) // max(size, 1)
        self.dataset = functools.lru_cache(maxsize=4096)(self._generate)
        self.file = functools.lru_cache(maxsize=512)(self._render)
        self.file_size = functools.lru_cache(maxsize=16384)(self._file_size)

    def __len__(self) -> int:
        return self.size

    # --- cheap per-index facts (no full generation) -----------------------------------

    def dataset_id(self, index: int) -> str:
        tail = uuid5_str(f"{self.seed}/{index}")[8:]
        return f"{index:08x}{tail}"

    def dataset_name(self, index: int) -> str:
        return f"sl-{index:07d}-{self.department_of(index).code}"

    def resource_id(self, index: int, slot: int) -> str:
        return uuid5_str(f"{self.seed}/{index}/{slot}")

    def department_index(self, index: int) -> int:
        point = mix(self.seed, index, 1) / 2**64 * _DEPT_CUMULATIVE[-1]
        return min(bisect.bisect_right(_DEPT_CUMULATIVE, point), len(DEPARTMENTS) - 1)

    def department_of(self, index: int) -> Department:
        return DEPARTMENTS[self.department_index(index)]

    def base_modified_us(self, index: int) -> int:
        """Strictly increasing in index, so time ranges map to index ranges by bisection."""
        jitter = mix(self.seed, index, 2) % max(self._step_us * 9 // 10, 1)
        return BASE_START_US + index * self._step_us + jitter

    def index_of(self, ref: str) -> int | None:
        """The index of a dataset id or name (any index, alive or not), else None."""
        try:
            if ref.startswith("sl-") and len(ref) > 11:
                index = int(ref[3:10])
                return index if ref == self.dataset_name(index) else None
            index = int(ref[:8], 16)
        except ValueError:
            return None
        return index if ref == self.dataset_id(index) else None

    # --- full generation ------------------------------------------------------------------

    def _generate(self, index: int) -> DemoDataset:
        rng = random.Random(mix(self.seed, index, 3))
        dept = self.department_of(index)
        subject = rng.choice(dept.subjects)
        modified = self.base_modified_us(index)
        issued = max(_EARLIEST_ISSUED_US, modified - int(rng.random() * 2 * _YEAR_US))
        created = min(issued + rng.randrange(3 * 86400 * _US), modified)
        year = from_us(issued).year
        region = REGIONS[0] if rng.random() < 0.5 else rng.choice(REGIONS[1:])
        traditional = bool(subject.traditional) and mix(self.seed, index, 4) % 8 == 0
        title = _title(subject, region, year, traditional, dated=rng.random() < 0.5)
        themes = (dept.theme,)
        if rng.random() < 0.15:
            themes += (rng.choice([t for t, _ in THEMES if t != dept.theme]),)
        frequency = _frequency(rng, subject)
        keywords = tuple(dict.fromkeys((*subject.keywords, *themes[:1])))
        return DemoDataset(
            index=index,
            id=self.dataset_id(index),
            name=self.dataset_name(index),
            title=title,
            notes=_notes(rng, dept, subject, region[0], frequency),
            department=dept,
            subject=subject,
            themes=themes,
            keywords=keywords,
            region=region[0],
            open_type=rng.choices(_OPEN_TYPE_NAMES, cum_weights=_OPEN_TYPE_CUM)[0],
            frequency=frequency,
            license=LICENSES[0] if rng.random() < 0.6 else LICENSES[1],
            issued_us=issued,
            created_us=created,
            modified_us=modified,
            year=year,
            resources=self._resources(rng, index, subject, created, modified),
            traditional=traditional,
        )

    def _resources(self, rng, index, subject, created, modified) -> tuple[ResourceSpec, ...]:
        label = subject.title.replace("{Y}年", "").replace("{R}", "")
        count = rng.choices((1, 2, 3), cum_weights=(55, 85, 100))[0]
        first = rng.choices(_FIRST_FORMATS, cum_weights=(55, 70, 85, 93, 100))[0]
        formats = [first, *rng.sample([f for f in ("CSV", "JSON", "XML", "XLSX") if f != first], 2)]
        specs = []
        for slot, fmt in enumerate(formats[:count]):
            name = f"{label}数据接口" if fmt == "API" else f"{label}（{fmt}）"
            touched = max(created, modified - rng.randrange(86400 * _US))
            specs.append(
                ResourceSpec(slot, self.resource_id(index, slot), name, fmt, created, touched)
            )
        return tuple(specs)

    def extra_resource(self, index: int, slot: int, at_us: int) -> ResourceSpec:
        """A resource a change adds later (slot ≥ 3): alternately CSV and JSON."""
        ds = self.dataset(index)
        fmt = "CSV" if slot % 2 else "JSON"
        name = f"{from_us(at_us).year}年{ds.label}补充数据（{fmt}）"
        return ResourceSpec(slot, self.resource_id(index, slot), name, fmt, at_us, at_us)

    # --- file contents --------------------------------------------------------------------

    def table(
        self, index: int, slot: int, content_rev: int = 0, schema_rev: int = 0
    ) -> content.Table:
        ds = self.dataset(index)
        columns = content.schema(ds.subject.columns, schema_rev)
        return content.build_table(mix(self.seed, index, slot, content_rev, 5), columns, ds.year)

    def _render(self, index: int, slot: int, fmt: str, content_rev: int, schema_rev: int) -> bytes:
        return content.render(
            fmt, self.table(index, slot, content_rev, schema_rev), self.csv_encoding(index)
        )

    def csv_encoding(self, index: int) -> str:
        """One dataset in five publishes its CSV in GB18030 (GBK's superset), as some
        Chinese portals still do."""
        return "gb18030" if mix(self.seed, index, 6) % 5 == 0 else "utf-8"

    def _file_size(self, index: int, slot: int, fmt: str, content_rev: int, schema_rev: int) -> int:
        return len(self.file(index, slot, fmt, content_rev, schema_rev))


def _title(
    subject: Subject, region: tuple[str, str], year: int, traditional: bool, dated: bool
) -> str:
    template = subject.traditional if traditional else subject.title
    place = region[1] if traditional else region[0]
    if "{R}" not in template:
        template = "{R}" + template
    if dated and "{Y}" not in template:  # portals often republish lists per year
        template = "{Y}年" + template
    return template.replace("{Y}", str(year)).replace("{R}", place)


def _frequency(rng: random.Random, subject: Subject) -> str:
    """The raw 更新周期 text, messy like real catalogs: blanks, 其他, junk."""
    roll = rng.random()
    if roll < 0.06:
        return ""
    if roll < 0.09:
        return "其他"
    if roll < 0.105:
        return rng.choice(JUNK_FREQUENCIES)
    return rng.choice(FREQUENCY_TEXTS[subject.rhythm])


_REGULAR_FREQUENCIES = frozenset(text for texts in FREQUENCY_TEXTS.values() for text in texts)
_NOTES = (
    "{dept}提供的{region}{label}，包括{cols}等信息。",
    "本数据集为{region}{label}，数据来源于{dept}业务系统，主要字段包括{cols}。",
    "记录{region}{label}情况，包含{cols}等字段，可用于{use}。",
    "{region}{label}，由{dept}汇聚整理并向社会开放，字段包括{cols}，供{use}使用。",
)


def _notes(rng, dept: Department, subject: Subject, region: str, frequency: str) -> str:
    cols = "、".join(h.split("(")[0] for h, _, _ in subject.columns[:3])
    label = subject.title.replace("{Y}年", "").replace("{R}", "")
    text = rng.choice(_NOTES).format(
        dept=dept.name, region=region, label=label, cols=cols, use=rng.choice(USES)
    )
    if frequency in _REGULAR_FREQUENCIES:
        text += f"更新周期：{frequency}。"
    return text
