"""Racing claims: worker threads, each with its own Database (its own engine and
connections, like separate virtstack instances), released together."""
from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Callable

from backend.compute.claims import Claims
from backend.db import Database


def race(db_url: str, attempt: Callable[[Claims, random.Random], str], workers: int,
         tries: int) -> Counter:
    """``workers`` threads run ``attempt(claims, rng)`` ``tries`` times each, released
    together (rng seeded by the worker's number); returns how often each outcome came
    back. A worker's exception fails the race."""
    outcomes: Counter = Counter()
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(workers, timeout=60)

    def worker(k: int) -> None:
        db = Database(db_url, migrate=False)
        claims, rng = Claims(db), random.Random(k)
        try:
            start.wait()
            for _ in range(tries):
                got = attempt(claims, rng)
                with lock:
                    outcomes[got] += 1
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    assert sum(outcomes.values()) == workers * tries
    return outcomes
