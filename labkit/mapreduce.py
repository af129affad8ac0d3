"""The MapReduce model in plain Python: map → shuffle (group by key) → reduce.

Spark's RDD ``flatMap``/``reduceByKey`` are the distributed form of these three steps. This module runs
them in one process so a learner can see each phase — and so lab 01 can show the model where Spark
offers no RDD API (Spark Connect).

>>> counts = map_reduce(["to be or", "not to be"], mapper=lambda line: [(w, 1) for w in tokenize(line)],
...                     reducer=lambda a, b: a + b)
>>> sorted(counts.items())
[('be', 2), ('not', 1), ('or', 1), ('to', 2)]
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from functools import reduce
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_WORD = re.compile(r"[a-z]+")


def tokenize(line: str) -> list[str]:
    """Lower-case words made of the letters a–z; digits and punctuation separate words.

    >>> tokenize("John F. Kennedy Int'l, NY-1")
    ['john', 'f', 'kennedy', 'int', 'l', 'ny']
    """
    return _WORD.findall(line.lower())


def shuffle(pairs: Iterable[tuple[K, V]]) -> dict[K, list[V]]:
    """Group mapped ``(key, value)`` pairs by key: what the shuffle does across the network."""
    groups: dict[K, list[V]] = defaultdict(list)
    for key, value in pairs:
        groups[key].append(value)
    return dict(groups)


def map_reduce(
    records: Iterable[Any],
    *,
    mapper: Callable[[Any], Iterable[tuple[K, V]]],
    reducer: Callable[[V, V], V],
) -> dict[K, V]:
    """Run the three phases: ``mapper`` on every record, shuffle by key, fold each key's values with ``reducer``."""
    mapped = (pair for record in records for pair in mapper(record))
    return {key: reduce(reducer, values) for key, values in shuffle(mapped).items()}
