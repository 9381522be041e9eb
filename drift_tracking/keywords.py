"""Words that say what a group of texts is about, against a background: cluster labels.

People read "refund order days" faster than "cluster 7". A group's label is its top
words by a c-TF-IDF-style score (Grootendorst 2022, BERTopic: class-based TF-IDF),
here the pointwise KL contribution of each word

    score(w) = p_g(w) * log(p_g(w) / p_b(w)),

with p_g the word's share of the group's words and p_b its share of the background's.
Baseline clusters are labelled against the whole baseline; a window's novel clusters
against the baseline, with add-one smoothing so a word the baseline never used scores
highest: that is what is new.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

_WORD = re.compile(r"[a-z][a-z']{2,}")
STOPWORDS = frozenset(
    """a an and are as at be but by can could do does for from has have how i if in is it its me my
    of on or our please so that the their them there this to was we what when where which who why
    will with would you your yours i'm i've it's can't don't hi hello thanks thank get got need want
    just any some also about into out up all not no""".split()
)


def words(text: str) -> list[str]:
    """Lower-case words of three letters or more, stopwords left out."""
    return [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def word_counts(texts: Iterable[str]) -> Counter:
    counts: Counter = Counter()
    for text in texts:
        counts.update(words(text))
    return counts


def top_words(group: Mapping[str, int], background: Mapping[str, int], *, top: int = 3, smooth: bool = False) -> str:
    """The ``top`` words of ``group`` scored against ``background`` (see the module doc), space-joined.

    >>> top_words({"refund": 4, "order": 2}, {"refund": 4, "order": 40, "card": 40})
    'refund order'
    """
    size = sum(group.values()) or 1
    total = sum(background.values()) + (len(background) + len(group) if smooth else 0) or 1

    def score(w: str) -> float:
        p_g = group[w] / size
        p_b = (background.get(w, 0) + (1 if smooth else 0)) / total
        return p_g * math.log(p_g / p_b) if p_b > 0 else math.inf

    return " ".join(sorted(group, key=lambda w: (-score(w), w))[:top])


def describe_clusters(texts: Sequence[str], labels: Sequence[int], k: int, top: int = 3) -> list[str]:
    """A label for each of the ``k`` clusters of ``texts`` (``labels[i]`` is text i's cluster)."""
    per_cluster = [Counter() for _ in range(k)]
    for text, label in zip(texts, labels):
        per_cluster[int(label)].update(words(text))
    overall = sum(per_cluster, Counter())
    return [top_words(counts, overall, top=top) for counts in per_cluster]


def describe_groups(
    texts: Sequence[str], labels: Sequence[int], background: Mapping[str, int], top: int = 3
) -> dict[int, str]:
    """A label for each group of window ``texts`` (``labels[i]`` >= 0) against the baseline's word counts."""
    groups: dict[int, Counter] = {}
    for text, label in zip(texts, labels):
        if label >= 0:
            groups.setdefault(int(label), Counter()).update(words(text))
    return {g: top_words(counts, background, top=top, smooth=True) for g, counts in groups.items()}
