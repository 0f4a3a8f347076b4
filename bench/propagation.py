"""Oppositions recorded at a steady rate while the worker forwards them to partner endpoints.

    python -m bench.propagation [--rate 500] [--seconds 10] [--partners 20] [--api [--workers 2]]

A SQLite registry holds ``--partners`` partners, each rented its own slice of
the base by email (so each opposition concerns one partner). Each partner has
its own HTTP endpoint on loopback. For ``--seconds``, oppositions are recorded
through the service function every route uses (``record_opposition``) at
``--rate`` per second, while ``listguard worker`` runs in its own process.
Prints intake latency (p50, p99), the rate reached, and end-to-end latency from
recording to the partner's receipt (p50, p99), in a Markdown table.

With ``--api``, the oppositions go through the web application instead:
``listguard serve --workers N --no-propagate`` (the worker forwards), and the
open-loop HTTP load generator of ``bench.web_load`` posts ``POST
/api/v1/oppositions`` with a machine key; intake latency is the HTTP answer's, from
the time the request was due, and end to end runs from that time to the partner's
receipt. The load generator and the 20 endpoints share the benchmark's process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.common import OUT


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--partners", type=int, default=20)
    parser.add_argument("--contacts-per-partner", type=int, default=1000)
    parser.add_argument("--api", action="store_true", help="Through the API (listguard serve).")
    parser.add_argument("--workers", type=int, default=2, help="Server processes, with --api.")
    parser.add_argument("--port", type=int, default=8798)
    args = parser.parse_args()

    from tests.scenario import contact, partner, write_csv

    from listguard import netguard
    from listguard.config import Settings
    from listguard.db.migrate import upgrade
    from listguard.imports import import_file
    from listguard.oppositions import record_opposition
    from listguard.renting.deliver import rent
    from listguard.renting.order import parse_order
    from listguard.storage.engine import make_engine

    folder = OUT / "propagation"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    # the endpoints listen on loopback over http: allowed for this bench only
    config = folder / "listguard.toml"
    config.write_text("[propagation]\nallow_private_endpoints = true\n", encoding="utf-8")
    netguard.allow_private_endpoints(True)
    received: dict[str, float] = {}

    class Endpoint(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # kept-alive connections, as a partner's server keeps them

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received[json.loads(body)["message_id"]] = time.time()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a: Any) -> None:
            pass

    servers = [ThreadingHTTPServer(("127.0.0.1", 0), Endpoint) for _ in range(args.partners)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    per = args.contacts_per_partner
    partners = [
        partner(f"P{i:02d}", notify_url=f"http://127.0.0.1:{s.server_address[1]}/hook")
        for i, s in enumerate(servers)
    ]
    contacts = [
        contact(f"C{n:06d}", email=f"c{n}@example.com", mobile="", last_name=f"N{n}")
        for n in range(per * args.partners)
    ]
    for i, row in enumerate(contacts):  # partner i is rented slice i (by postal code)
        row["postal_code"] = f"{10000 + i // per}"
    url = f"sqlite:///{folder / 'registry.db'}"
    engine = make_engine(url)
    upgrade(engine)
    import_file(engine, "partners", write_csv(folder / "partners.csv", partners))
    import_file(engine, "contacts", write_csv(folder / "contacts.csv", contacts))
    for i in range(args.partners):
        order = parse_order(
            f'partner = "P{i:02d}"\nchannels = ["email"]\npurpose = "Bench"\n'
            "campaign_start = 2026-12-01\ncampaign_end = 2026-12-31\nas_of = 2026-11-28\n"
            f'[segment]\npostal_code_prefix = ["{10000 + i}"]\n'
        )
        rent(engine, order, folder / f"d{i}", Settings())

    worker = subprocess.Popen(
        [
            *(sys.executable, "-m", "listguard", "--db", url, "--config", str(config)),
            *("worker", "--poll", "0.05"),
        ],
        stdout=subprocess.DEVNULL,
    )
    recorded: dict[int, float] = {}  # contact number -> when its opposition was recorded
    intake: list[float] = []
    total = int(args.rate * args.seconds)
    if args.api:
        elapsed = _through_api(args, url, total, len(contacts), recorded, intake)
    else:
        start = time.perf_counter()
        for k in range(total):
            due = start + k / args.rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            n = (k * 7919) % len(contacts)
            t0 = time.perf_counter()
            recorded[n] = time.time()
            record_opposition(engine, channel="email", contact_id=f"C{n:06d}")
            intake.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
    deadline = time.time() + 120
    while len(received) < total and time.time() < deadline:
        time.sleep(0.1)
    worker.terminate()
    worker.wait()
    with engine.connect() as conn:
        from sqlalchemy import text

        keys = conn.execute(
            text(
                "SELECT o.id, o.event_id, o.created_at, e.contact_id FROM outbox o "
                "JOIN events e ON e.id = o.event_id"
            )
        ).all()
    latencies = []
    from listguard.propagation.outbox import message_key as _key

    for message_id, event_id, created_at, contact_id in keys:
        key = _key(int(message_id), int(event_id), int(created_at))
        if key in received:
            latencies.append(received[key] - recorded[int(contact_id[1:])])
    for server in servers:
        server.shutdown()
        server.server_close()
    route = f"through the API, {args.workers} server processes" if args.api else "in process"
    print(f"| {total:,} oppositions ({route}), {args.partners} partner endpoints | |\n|---|---|")
    print(f"| target rate | {args.rate}/s for {args.seconds:.0f} s |")
    print(f"| rate reached (intake) | {total / elapsed:,.0f}/s |")
    print(
        f"| intake latency p50 / p99 | {statistics.median(intake) * 1000:.1f} ms / "
        f"{_percentile(intake, 0.99) * 1000:.1f} ms |"
    )
    print(f"| messages delivered | {len(latencies):,} of {len(keys):,} |")
    if latencies:
        print(
            f"| end-to-end latency p50 / p99 | {statistics.median(latencies):.2f} s / "
            f"{_percentile(latencies, 0.99):.2f} s |"
        )


def _through_api(
    args: argparse.Namespace,
    url: str,
    total: int,
    people: int,
    recorded: dict[int, float],
    intake: list[float],
) -> float:
    """Post the oppositions to a server of the registry at ``url``; returns the seconds
    the load took. Fills ``recorded`` (when each contact's request was due, wall clock)
    and ``intake`` (each answer's latency)."""
    import asyncio

    import httpx

    from bench.web_load import _request, load
    from listguard.accounts import create_api_key
    from listguard.storage.engine import make_engine

    key, _grant = create_api_key(make_engine(url), role="machine", scopes=("oppositions:write",))
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "listguard", "--db", url, "serve"),
            *("--port", str(args.port), "--workers", str(args.workers), "--no-propagate"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{args.port}/", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise SystemExit("the server did not start")
        order = [(k * 7919) % people for k in range(total)]  # each contact once

        def post(n: str) -> bytes:
            body = json.dumps({"contact_id": f"C{int(n):06d}", "channel": "email"})
            auth = {"Authorization": f"Bearer {key}"}
            return _request("/api/v1/oppositions", body.encode(), "application/json", auth)

        t0 = time.perf_counter()
        latencies, codes, _reached, start = asyncio.run(
            load(args.port, args.rate, args.seconds, post, [str(n) for n in order])
        )
        elapsed = time.perf_counter() - t0
        if set(codes) != {201}:
            print(f"answers: {codes}", file=sys.stderr)
        for k, n in enumerate(order):
            recorded[n] = start + k / args.rate
        intake.extend(latencies)
        return elapsed
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
