"""Search load: a realistic, deterministic query mix and a fixed-concurrency closed-loop driver."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from random import Random

import httpx

from kafka_restaurants.bench.rawhttp import ConnectionPool, target

# Share of each kind of query in the mix, roughly what a search box and its filters see.
QUERY_KINDS: tuple[tuple[str, int], ...] = (
    ("seed_params", 30),  # the prototype's restaurant_name / restaurant_style / vegetarian
    ("free_text", 25),  # q= a dish or a style
    ("typo", 15),  # q= the same with a slip of the finger
    ("filtered", 15),  # q= plus vegetarian / delivery / style
    ("paginated", 10),  # a style, browsing pages further down
    ("browse", 5),  # no query at all, a page of everything
)


@dataclass(frozen=True)
class SearchQuery:
    kind: str
    params: dict[str, str]


@dataclass(frozen=True)
class CatalogVocabulary:
    """Words real users would type, taken from the catalog under test."""

    styles: Sequence[str]
    names: Sequence[str]
    dishes: Sequence[str]


def make_typo(word: str, rng: Random) -> str:
    """The word with one slip: a letter dropped, doubled, swapped with the next, or replaced."""
    if len(word) < 4:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 1)
    slip = rng.choice(("drop", "double", "swap", "replace"))
    if slip == "drop":
        return word[:i] + word[i + 1 :]
    if slip == "double":
        return word[:i] + word[i] + word[i:]
    if slip == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + rng.choice("aeioulnrst") + word[i + 1 :]


def _random_case(text: str, rng: Random) -> str:
    return rng.choice((text.lower(), text.upper(), text.title(), text))


def _bool(rng: Random) -> str:
    return rng.choice(("true", "false"))


def _name_fragment(name: str, rng: Random) -> str:
    word = rng.choice([w for w in name.split() if w.isalpha()] or [name])
    if len(word) <= 4:
        return word
    start = rng.randrange(0, len(word) - 3)
    return word[start : start + rng.randint(3, min(6, len(word) - start))]


def _seed_params(vocab: CatalogVocabulary, rng: Random) -> dict[str, str]:
    """The prototype's own parameters: a style, a name fragment, or a style and vegetarian."""
    pick = rng.random()
    if pick < 0.4:
        return {"restaurant_style": _random_case(rng.choice(vocab.styles), rng)}
    if pick < 0.7:
        fragment = _name_fragment(rng.choice(vocab.names), rng)
        return {"restaurant_name": _random_case(fragment, rng)}
    return {
        "restaurant_style": _random_case(rng.choice(vocab.styles), rng),
        "vegetarian": _bool(rng),
    }


def _free_text(vocab: CatalogVocabulary, rng: Random, typo: bool = False) -> dict[str, str]:
    """A dish or a style in up to three words, maybe with a typo in one."""
    phrase = rng.choice(vocab.dishes) if rng.random() < 0.7 else rng.choice(vocab.styles)
    words = phrase.lower().split()
    if typo:
        target = rng.randrange(len(words))
        words[target] = make_typo(words[target], rng)
    return {"q": " ".join(words[:3])}


def _filtered(vocab: CatalogVocabulary, rng: Random) -> dict[str, str]:
    """A dish word with some of the filters."""
    params = {"q": rng.choice(vocab.dishes).lower().split()[0]}
    for name in ("vegetarian", "delivery"):
        if rng.random() < 0.5:
            params[name] = _bool(rng)
    if rng.random() < 0.3:
        params["restaurant_style"] = rng.choice(vocab.styles)
    return params


def _paginated(vocab: CatalogVocabulary, rng: Random) -> dict[str, str]:
    """A later page of one style."""
    style = rng.choice(vocab.styles)
    return {"restaurant_style": style, "limit": "20", "offset": str(20 * rng.randint(1, 10))}


def _browse(_vocab: CatalogVocabulary, rng: Random) -> dict[str, str]:
    """A page of the whole catalog."""
    return {"limit": "20", "offset": str(20 * rng.randint(0, 50))}


_PARAMS: dict[str, Callable[[CatalogVocabulary, Random], dict[str, str]]] = {
    "seed_params": _seed_params,
    "free_text": _free_text,
    "typo": lambda vocab, rng: _free_text(vocab, rng, typo=True),
    "filtered": _filtered,
    "paginated": _paginated,
}


def build_query_mix(
    vocab: CatalogVocabulary, count: int = 1000, seed: int = 7
) -> list[SearchQuery]:
    """`count` queries in the QUERY_KINDS proportions, the same ones for the same catalog."""
    rng = Random(seed)
    kinds = [kind for kind, weight in QUERY_KINDS for _ in range(weight)]
    queries: list[SearchQuery] = []
    for _ in range(count):
        kind = rng.choice(kinds)
        queries.append(SearchQuery(kind, _PARAMS.get(kind, _browse)(vocab, rng)))
    return queries


async def load_vocabulary(client: httpx.AsyncClient, rng: Random) -> CatalogVocabulary:
    """Styles, restaurant names and dish names sampled from the running catalog."""
    styles = (await client.get("/styles")).raise_for_status().json()
    names: list[str] = []
    ids: list[int] = []
    for offset in (0, 500, 2000, 5000, 9000):
        page = (await client.get("/search", params={"limit": 100, "offset": offset})).json()
        names += [r["name"] for r in page]
        ids += [r["id"] for r in page]
    dishes: list[str] = []
    for restaurant_id in rng.sample(ids, min(20, len(ids))):
        detail = (await client.get(f"/restaurants/{restaurant_id}")).raise_for_status().json()
        dishes += [item["name"] for item in detail["menu"]]
    if not styles or not names or not dishes:
        raise RuntimeError("the catalog under test is empty: seed it first")
    return CatalogVocabulary(styles=styles, names=sorted(set(names)), dishes=sorted(set(dishes)))


@dataclass
class ClosedLoopRun:
    """Latencies and outcomes of one fixed-concurrency run."""

    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    by_kind_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0


async def run_closed_loop(
    pool: ConnectionPool,
    path: str,
    queries: Sequence[SearchQuery],
    concurrency: int,
    seconds: float,
    first: int = 0,
) -> ClosedLoopRun:
    """`concurrency` workers each send the next query (from `first` on) as soon as the last one
    answered, over kept-alive connections."""
    run = ClosedLoopRun()
    prepared = [(q.kind, target(path, q.params)) for q in queries]
    cursor = iter(range(first, 10**12))
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            kind, request_target = prepared[next(cursor) % len(prepared)]
            began = time.perf_counter()
            try:
                reply = await pool.request("GET", request_target)
            except (OSError, asyncio.IncompleteReadError, TimeoutError):
                run.errors += 1
                continue
            elapsed_ms = (time.perf_counter() - began) * 1000
            run.statuses[reply.status] = run.statuses.get(reply.status, 0) + 1
            if reply.status != 200:
                run.errors += 1
                continue
            run.latencies_ms.append(elapsed_ms)
            run.by_kind_ms.setdefault(kind, []).append(elapsed_ms)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.seconds = time.perf_counter() - started
    return run


def new_client(base_url: str, connections: int, timeout: float = 30.0) -> httpx.AsyncClient:
    """A keep-alive httpx client for the few requests that set a run up (not for load)."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )
