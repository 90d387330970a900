"""The suggestion model: a scenario's profile, and how well any dataset fits it.

A profile is built from the scenario's members (positives) and the datasets its owner
voted down (negatives), Rocchio-style:

    pos(t) = (mean over members m of (3·[t ∈ title(m)] + [t ∈ body(m)]) / 4)² · idf(t)
    neg(t) = the same over the negatives
    w(t)   = pos(t) − BETA · neg(t)      (the TERMS strongest positive and NEG_TERMS most
                                         negative words are kept)

Words are the search's own analysis (`search.analysis`: folding, rjieba segmentation);
stop words, single characters, pure numbers (years), words in more than 80 % of the
catalog and the words of the members' publisher and theme names are left out (those
have features of their own). Squaring the share favours the words members agree on. Body is the
search index's body text (description, keywords, publisher, themes).

A dataset d is scored by the same word presence the search index holds:

    text(d) = Σ_t w(t) · (3·[t ∈ title(d)] + [t ∈ body(d)])
    fit(d)  = soft_cap(text(d) / ref)               ref = 75th percentile of text(m), members
            + PUBLISHER · share of members with d's publisher
            + THEME · Σ over d's themes of the share of members holding it
            + KEY · share of members with a join key format d also has (preview, optional)

so fit ≈ 1 for a dataset as close to the scenario as its closer members (a percentile
above the median, so a scenario of varied members does not make one shared word enough).
Over the whole catalog the presence comes from the index's postings (`IndexCorpus`, vectorized); for a
snapshot not yet indexed (a newly harvested dataset) from the same analysis of its text
(`score_doc`); tests hold the two equal. bench/suggest.py runs the same code over an
in-memory corpus.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from subscribe.search.analysis import STOP_WORDS, fold, query_terms, tokens

W_TITLE = 3.0
W_BODY = 1.0
TERMS = 24  # positive words kept in a profile
NEG_TERMS = 16  # negative words kept
CANDIDATE_TERMS = 80  # words of the members looked up at all (most frequent first)
BETA = 0.75  # weight of the negatives (Rocchio's γ with α = 1)
TEXT_CAP = 2.0  # the text part of the fit never exceeds this (soft_cap)
PUBLISHER = 0.35
THEME = 0.15
KEY = 0.2
CONSENSUS = 2.0  # exponent on the share of members holding a word
COMMON = 0.8  # words in more than this share of the catalog say nothing
REASON_SHARE = 0.2  # words named in a reason weigh at least this share of the strongest
REASON_IDF = math.log(2.5)  # … and are in at most 40 % of the catalog (not 信息, 数据)
REF_PERCENTILE = 75  # text(d) is measured against this percentile of the members' scores
SHOWN = 0.2  # below this a dataset is not suggested at all (one shared word is not a match)
PROFILE_MEMBERS = 300  # members read to build the words (pins first, then spread evenly)


class Corpus(Protocol):
    """What the model reads of a catalog (the search index, or bench/suggest.py's memory)."""

    size: int  # ids are 0 … size-1
    live_count: int

    def visible(self) -> np.ndarray: ...  # bool[size]: suggestible datasets

    def presence(self, field: str, term: str) -> np.ndarray: ...  # ids holding it

    def publisher_of(self) -> tuple[np.ndarray, list[str]]: ...  # (ordinal[size], names)

    def theme_masks(self, names: Iterable[str]) -> dict[str, np.ndarray]: ...

    def texts(self, ids: list[int]) -> dict[int, tuple[str, str, str, list[str]]]:
        """id → (title, body, publisher, themes)."""
        ...


@dataclass
class Profile:
    terms: dict[str, float]  # word → Rocchio weight (negative for the negatives' words)
    ref: float  # the members' text score at REF_PERCENTILE
    publishers: dict[str, int]  # publisher → members it published
    themes: dict[str, int]  # theme → members holding it
    keys: dict[str, int]  # join key format → members having it
    size: int  # members
    excluded: frozenset[int] = frozenset()  # never suggested: excluded or voted down
    members: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    idf: dict[str, float] = field(default_factory=dict)  # of the words kept

    @property
    def empty(self) -> bool:
        return self.size == 0 or not any(w > 0 for w in self.terms.values())


def useful(term: str) -> bool:
    """A word that can say what a dataset is about (not a stop word, year or character)."""
    return len(term) >= 2 and term not in STOP_WORDS and not term.isdigit()


def words(text: str) -> set[str]:
    """A text's words as the profile counts them (precise segmentation)."""
    return {t for t in query_terms(text or "") if useful(t)}


def indexed_terms(text: str) -> set[str]:
    """Every term the search index holds for a text (with sub-words), as presence sees it."""
    return {term for term, _p, _s, _e in tokens(fold(text or ""))}


def idf(df: int, live: int) -> float:
    return math.log(1 + (live - df + 0.5) / (df + 0.5))


def _mean_vector(docs: list[tuple[set[str], set[str]]], allowed) -> Counter:
    """Σ over docs of (3·[t ∈ title] + [t ∈ body]) / 4, divided by the number of docs."""
    total: Counter = Counter()
    for title, body in docs:
        for term in title | body:
            if allowed(term):
                total[term] += (W_TITLE * (term in title) + W_BODY * (term in body)) / 4
    n = max(len(docs), 1)
    # Squared: words most members share weigh more than many words one member has.
    return Counter({t: (v / n) ** CONSENSUS for t, v in total.items()})


def sample(ids: np.ndarray, pinned: Iterable[int], limit: int = PROFILE_MEMBERS) -> list[int]:
    """Up to `limit` member ids: the pinned ones first (the user chose them), then spread
    evenly over the rest (deterministic)."""
    known = set(ids.tolist())
    chosen = [int(i) for i in dict.fromkeys(pinned) if i in known][:limit]
    rest = np.setdiff1d(ids, np.asarray(chosen, dtype=np.int64))
    room = limit - len(chosen)
    if room > 0 and len(rest):
        step = max(len(rest) / room, 1.0)
        chosen += [int(rest[int(k * step)]) for k in range(min(room, len(rest)))]
    return chosen


def build(corpus: Corpus, member_ids: np.ndarray, pinned: Iterable[int] = (),
          negative_ids: Iterable[int] = (), excluded: Iterable[int] = (),
          keys: dict[int, set[str]] | None = None) -> Profile:  # fmt: skip
    """The profile of a scenario with these members (all of them, ids), its pinned ids,
    the datasets voted down (negatives) and the ids never to suggest. `keys`: join key
    formats by dataset id (members only), when the preview detected any."""
    member_ids = np.asarray(member_ids, dtype=np.int64)
    negative_ids = [int(i) for i in negative_ids]
    excluded_set = frozenset(int(i) for i in excluded) | frozenset(negative_ids)
    if len(member_ids) == 0:
        return Profile({}, 1.0, {}, {}, {}, 0, excluded_set, member_ids)
    chosen = sample(member_ids, pinned)
    texts = corpus.texts(chosen + negative_ids)
    publishers = Counter()
    themes = Counter()
    ordinals, names = corpus.publisher_of()
    for ordinal, count in zip(*np.unique(ordinals[member_ids], return_counts=True), strict=True):
        if names[ordinal]:
            publishers[names[ordinal]] = int(count)
    for i in chosen:
        if i in texts:
            themes.update(set(texts[i][3]))
    # Themes were counted over the sample: scale to all members.
    scale = len(member_ids) / max(len([i for i in chosen if i in texts]), 1)
    themes = Counter({t: round(c * scale) for t, c in themes.items()})
    named = set()  # words of publisher and theme names: features of their own
    for name in [*publishers, *themes]:
        named |= words(name)

    def allowed(term: str) -> bool:
        return useful(term) and term not in named

    def analysed(ids):
        return [(words(texts[i][0]), words(texts[i][1])) for i in ids if i in texts]

    pos = _mean_vector(analysed(chosen), allowed)
    neg = _mean_vector(analysed(negative_ids), allowed) if negative_ids else Counter()
    live = max(corpus.live_count, 1)
    weights: dict[str, float] = {}
    idfs: dict[str, float] = {}
    for term in [t for t, _ in (pos + neg).most_common(CANDIDATE_TERMS)] + [
        t for t, _ in neg.most_common(NEG_TERMS)
    ]:
        if term in weights:
            continue
        df = max(len(corpus.presence("title", term)), len(corpus.presence("body", term)))
        if df > COMMON * live:
            continue
        idfs[term] = idf(df, live)
        weight = idfs[term] * (pos.get(term, 0.0) - BETA * neg.get(term, 0.0))
        if weight:
            weights[term] = weight
    # Ties broken by the term itself: the weights come from sets, whose order changes from
    # process to process (str hashing), and two web workers must suggest alike.
    positive = sorted((t for t in weights if weights[t] > 0), key=lambda t: (-weights[t], t))
    negative = sorted((t for t in weights if weights[t] < 0), key=lambda t: (weights[t], t))
    terms = {t: weights[t] for t in [*positive[:TERMS], *negative[:NEG_TERMS]]}
    key_counts = Counter()
    for formats in (keys or {}).values():
        key_counts.update(formats)
    profile = Profile(terms, 1.0, dict(publishers), dict(themes), dict(key_counts),
                      len(member_ids), excluded_set, member_ids,
                      {t: idfs[t] for t in terms})  # fmt: skip
    text = text_scores(corpus, profile)
    inside = member_ids[member_ids < len(text)]
    ref = float(np.percentile(text[inside], REF_PERCENTILE)) if len(inside) else 0.0
    profile.ref = ref if ref > 1e-9 else max(sum(w for w in terms.values() if w > 0), 1e-9)
    return profile


def soft_cap(ratio):
    """The text part of the fit: the ratio up to 1, then growing 4× slower, at most
    TEXT_CAP, so closer-than-typical datasets still rank by closeness (no ties at a cap)."""
    return np.minimum(np.where(ratio <= 1, ratio, 1 + (ratio - 1) * 0.25), TEXT_CAP)


def text_scores(corpus: Corpus, profile: Profile) -> np.ndarray:
    """text(d) for every id of the corpus (float64[size])."""
    scores = np.zeros(corpus.size, dtype=np.float64)
    for term, weight in profile.terms.items():
        for name, boost in (("title", W_TITLE), ("body", W_BODY)):
            ids = corpus.presence(name, term)
            scores[ids[ids < corpus.size]] += weight * boost
    return scores


def fits(corpus: Corpus, profile: Profile, text: np.ndarray | None = None) -> np.ndarray:
    """fit(d) for every id (float64[size]); join keys are added by the caller for the
    few top candidates (the preview's answer is per dataset)."""
    if text is None:
        text = text_scores(corpus, profile)
    fit = soft_cap(text / profile.ref)
    if profile.size:
        ordinals, names = corpus.publisher_of()
        share = np.zeros(len(names), dtype=np.float64)
        for ordinal, name in enumerate(names):
            if name in profile.publishers:
                share[ordinal] = profile.publishers[name] / profile.size
        fit += PUBLISHER * share[ordinals[: corpus.size]]
        for theme, mask in corpus.theme_masks(profile.themes).items():
            fit += THEME * (profile.themes[theme] / profile.size) * mask[: corpus.size]
    return fit


def candidates(corpus: Corpus, profile: Profile, limit: int) -> list[tuple[int, float]]:
    """The `limit` best (id, fit) outside the members and the excluded, best first
    (ties: lower id)."""
    if profile.empty:
        return []
    fit = fits(corpus, profile)
    allowed = corpus.visible().copy()
    allowed[profile.members[profile.members < corpus.size]] = False
    out = np.asarray([i for i in profile.excluded if i < corpus.size], dtype=np.int64)
    allowed[out] = False
    fit = np.where(allowed, fit, -np.inf)
    k = min(limit, int(allowed.sum()))
    if k <= 0:
        return []
    top = np.argpartition(-fit, k - 1)[:k]
    order = sorted(top.tolist(), key=lambda i: (-fit[i], i))
    return [(i, float(fit[i])) for i in order if fit[i] >= SHOWN]


@dataclass
class Doc:
    """A dataset's text and facets as the model reads them (a snapshot or a row)."""

    id: int
    title: str
    body: str
    publisher: str
    themes: list[str]
    keys: set[str] = field(default_factory=set)

    @property
    def title_terms(self) -> set[str]:
        return indexed_terms(self.title)

    @property
    def body_terms(self) -> set[str]:
        return indexed_terms(self.body)


def score_doc(profile: Profile, doc: Doc) -> float:
    """fit(d) of one document from its own text: equal to `fits` for an indexed one."""
    title, body = doc.title_terms, doc.body_terms
    text = sum(
        w * (W_TITLE * (t in title) + W_BODY * (t in body)) for t, w in profile.terms.items()
    )
    fit = float(soft_cap(np.float64(text / profile.ref)))
    if profile.size:
        fit += PUBLISHER * profile.publishers.get(doc.publisher, 0) / profile.size
        fit += THEME * sum(profile.themes.get(t, 0) / profile.size for t in set(doc.themes))
        fit += key_bonus(profile, doc.keys)
    return fit


def key_bonus(profile: Profile, keys: set[str]) -> float:
    if not profile.size or not keys:
        return 0.0
    shares = [profile.keys.get(k, 0) / profile.size for k in keys]
    return KEY * max(shares, default=0.0)


def explain(profile: Profile, doc: Doc) -> list[dict]:
    """Why `doc` was suggested, strongest first, as data (reasons.py words it):
    {"kind": "publisher", "publisher", "members"}, {"kind": "title", "terms"},
    {"kind": "text", "terms"}, {"kind": "theme", "theme", "members"},
    {"kind": "join_keys", "join_keys", "members"}."""
    reasons: list[dict] = []
    members = profile.publishers.get(doc.publisher, 0)
    if members:
        reasons.append({"kind": "publisher", "publisher": doc.publisher, "members": members})
    title, body = doc.title_terms, doc.body_terms
    top = max(profile.terms.values(), default=0.0)
    strong = sorted((t for t, w in profile.terms.items()
                     if w >= REASON_SHARE * top > 0 and profile.idf.get(t, 0) >= REASON_IDF),
                    key=lambda t: (-profile.terms[t], t))  # fmt: skip
    in_title = [t for t in strong if t in title][:3]
    if in_title:
        reasons.append({"kind": "title", "terms": in_title})
    in_body = [t for t in strong if t in body and t not in title][:3]
    if in_body:
        reasons.append({"kind": "text", "terms": in_body})
    shared = sorted((t for t in doc.themes if profile.themes.get(t)),
                    key=lambda t: (-profile.themes[t], t))  # fmt: skip
    if shared and not members:  # same publisher usually means same theme: say one
        reasons.append({"kind": "theme", "theme": shared[0], "members": profile.themes[shared[0]]})
    keys = sorted(k for k in doc.keys if profile.keys.get(k))
    if keys:
        reasons.append({"kind": "join_keys", "join_keys": keys,
                        "members": max(profile.keys[k] for k in keys)})  # fmt: skip
    return reasons
