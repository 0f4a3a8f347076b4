"""``calls check`` through the library and through the API, on SQLite.

    python -m bench.calls [--numbers 100000] [--checks 20000] [--requests 3000]

Builds a partner's registry holding ``--numbers`` numbers received (metropolitan and
every overseas territory), three calls logged for each and oppositions on one in
twenty; then

- the library: ``check`` on one connection, for ``--checks`` numbers at instants
  spread over a week (every territory, hours and days), checks per second;
- the API: ``listguard serve`` in its own process, a client sending
  ``GET /api/v1/calls/check`` one after the other on a kept-alive connection (a
  dialer asking before each call), one ``POST /api/v1/calls/attempts`` in ten,
  latency p50, p99 and max.

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import time

from bench.common import OUT

# the first digits of the numbers and their length in E.164
PREFIXES = (
    ("+336", 12),
    ("+337", 12),
    ("+331", 12),
    ("+262692", 13),
    ("+262639", 13),
    ("+590690", 13),
    ("+596696", 13),
    ("+594694", 13),
    ("+5085", 10),
)


def _numbers(n: int, rng: random.Random) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        p, length = PREFIXES[len(out) % len(PREFIXES)]
        out.add(p + str(rng.randrange(10 ** (length - len(p)))).zfill(length - len(p)))
    return sorted(out)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=3_000)
    parser.add_argument("--port", type=int, default=8798)
    args = parser.parse_args()

    import httpx
    from sqlalchemy import text

    from listguard.accounts import create_api_key
    from listguard.calls.check import check
    from listguard.db.migrate import upgrade
    from listguard.storage.engine import make_engine

    folder = OUT / "calls"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    db = f"sqlite:///{folder / 'registry.db'}"
    engine = make_engine(db)
    upgrade(engine)
    rng = random.Random(2026)
    numbers = _numbers(args.numbers, rng)
    start = int(dt.datetime(2026, 12, 7, tzinfo=dt.UTC).timestamp())
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO call_numbers (number, source, delivery, received_at) "
                "VALUES (:n, 'editions', 'd1', 0)"
            ),
            [{"n": n} for n in numbers],
        )
        conn.execute(
            text(
                "INSERT INTO call_attempts (number, at, outcome, recorded_at, via) "
                "VALUES (:n, :a, 'attempt', 0, 'file') ON CONFLICT DO NOTHING"
            ),
            [
                {"n": n, "a": start - rng.randrange(1, 60 * 86_400)}
                for n in numbers
                for _ in range(3)
            ],
        )
        conn.execute(
            text(
                "INSERT INTO suppressions (list, kind, value, added_at) "
                "VALUES ('opposition:editions', 'phone', :n, 0) ON CONFLICT DO NOTHING"
            ),
            [{"n": n} for n in numbers[::20]],
        )
    key, _ = create_api_key(engine, role="machine", label="bench")
    asked = [
        (
            rng.choice(numbers),
            dt.datetime.fromtimestamp(start + rng.randrange(7 * 86_400), tz=dt.UTC),
        )
        for _ in range(args.checks)
    ]
    with engine.connect() as conn:
        allowed = 0
        began = time.perf_counter()
        for number, at in asked:
            allowed += check(conn, number, at).allowed
        library = time.perf_counter() - began
    engine.dispose()

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "listguard", "--db", db, "serve", "--port", str(args.port),
         "--no-propagate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{args.port}"
    latencies: dict[str, list[float]] = {"GET check": [], "POST attempts": []}
    statuses: dict[int, int] = {}
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as http:
            for _ in range(200):
                try:
                    http.get("/api/v1/calls/check", params={"number": numbers[0]})
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            for i in range(args.requests):
                number, at = asked[i % len(asked)]
                began = time.perf_counter()
                if i % 10 == 9:
                    made = at - dt.timedelta(days=40, seconds=i)
                    r = http.post(
                        "/api/v1/calls/attempts", json={"number": number, "at": made.isoformat()}
                    )
                else:
                    r = http.get(
                        "/api/v1/calls/check", params={"number": number, "at": at.isoformat()}
                    )
                route = "POST attempts" if i % 10 == 9 else "GET check"
                latencies[route].append((time.perf_counter() - began) * 1000)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"{args.numbers:,} numbers received, {3 * args.numbers:,} calls logged, SQLite\n")
    print("| measure | result |")
    print("|---|---|")
    print(
        f"| library `check`, {args.checks:,} checks | {args.checks / library:,.0f} checks/s "
        f"({allowed:,} allowed) |"
    )
    for route, times in latencies.items():
        print(
            f"| API {route}, {len(times):,} requests one after another | "
            f"p50 {_percentile(times, 0.5):.2f} ms, p99 {_percentile(times, 0.99):.2f} ms, "
            f"max {max(times):.2f} ms |"
        )
    print(f"\nstatuses: {statuses}")


if __name__ == "__main__":
    main()
