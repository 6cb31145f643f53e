"""A seeded shop whose users have a few interests that drift over time.

Each item belongs to one category and has a popularity within it. Each user starts with a
sparse mix of interests over categories (Dirichlet); at every click the mix drifts a little
towards a fresh draw, so recent clicks predict the next one better than old ones, which is
the structure DIN's attention over the history exploits. Items also have a few "go-with"
items in other categories (accessories, sequels): a third of the clicks are a go-with of
one of the user's last ten clicks, so a candidate's relevance hinges on specific past
items rather than on the average of the history. A user feature
(``segment``) is correlated with the initial interests.

Example:
    >>> from deepseek_apps.apps.recommender.synthetic import generate_log
    >>> log = generate_log(n_users=10, n_items=50, seed=0)
    >>> len(set(log.users.tolist()))
    10
"""

from __future__ import annotations

import numpy as np

from .data import InteractionLog

CATEGORY_NAMES = (
    "books",
    "electronics",
    "garden",
    "toys",
    "kitchen",
    "sports",
    "music",
    "fashion",
    "beauty",
    "games",
    "tools",
    "travel",
)


def generate_log(
    n_users: int = 300,
    n_items: int = 400,
    n_categories: int = 8,
    events_per_user: tuple[int, int] = (15, 60),
    drift: float = 0.15,
    seed: int = 0,
) -> InteractionLog:
    """Generate clicks; user ids ``0..n_users-1``, item ids ``0..n_items-1``, timestamps in seconds."""
    rng = np.random.default_rng(seed)
    names = [
        CATEGORY_NAMES[c % len(CATEGORY_NAMES)] + ("" if c < len(CATEGORY_NAMES) else f"-{c}")
        for c in range(n_categories)
    ]
    item_cat = rng.permutation(np.arange(n_items) % n_categories)
    popularity = rng.pareto(1.5, n_items) + 0.2
    by_cat = [np.flatnonzero(item_cat == c) for c in range(n_categories)]
    cat_probs = [popularity[idx] / popularity[idx].sum() for idx in by_cat]
    related = rng.integers(0, n_items, size=(n_items, 3))
    users, items, stamps, segment = [], [], [], {}
    for u in range(n_users):
        interest = rng.dirichlet(np.full(n_categories, 0.25))
        segment[u] = f"segment-{int(np.argmax(interest)) % 4}"
        n = int(rng.integers(events_per_user[0], events_per_user[1] + 1))
        t = float(rng.integers(1_600_000_000, 1_650_000_000))
        recent: list[int] = []
        for _ in range(n):
            interest = (1 - drift) * interest + drift * rng.dirichlet(np.full(n_categories, 0.25))
            if recent and rng.random() < 1 / 3:  # a go-with of one of the last ten clicks
                item = int(related[recent[int(rng.integers(0, len(recent)))], int(rng.integers(0, 3))])
            else:
                c = int(rng.choice(n_categories, p=interest / interest.sum()))
                item = int(rng.choice(by_cat[c], p=cat_probs[c]))
            t += float(rng.exponential(3600.0)) + 1.0
            users.append(u)
            items.append(item)
            stamps.append(t)
            recent = (recent + [item])[-10:]
    cats = {i: names[int(item_cat[i])] for i in range(n_items)}
    titles = {i: f"{names[int(item_cat[i])]} #{i}" for i in range(n_items)}
    order = rng.permutation(len(users))  # files are rarely sorted; the sample builder must sort
    return InteractionLog(
        np.asarray(users, np.int64)[order],
        np.asarray(items, np.int64)[order],
        np.asarray(stamps)[order],
        cats,
        {"segment": segment},
        titles,
    )
