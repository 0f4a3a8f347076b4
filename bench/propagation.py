"""Oppositions recorded at a steady rate while the worker forwards them to partner endpoints.

    python -m bench.propagation [--rate 500] [--seconds 10] [--partners 20]

A SQLite registry holds ``--partners`` partners, each rented its own slice of
the base by email (so each opposition concerns one partner). Each partner has
its own HTTP endpoint on loopback. For ``--seconds``, oppositions are recorded
through the service function every route uses (``record_opposition``) at
``--rate`` per second, while ``listguard worker`` runs in its own process.
Prints intake latency (p50, p99), the rate reached, and end-to-end latency from
recording to the partner's receipt (p50, p99), in a Markdown table.
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
    args = parser.parse_args()

    from tests.scenario import contact, partner, write_csv

    from listguard.config import Settings
    from listguard.db.engine import make_engine
    from listguard.db.migrate import upgrade
    from listguard.imports import import_file
    from listguard.oppositions import record_opposition
    from listguard.renting.deliver import rent
    from listguard.renting.order import parse_order

    folder = OUT / "propagation"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    received: dict[str, float] = {}

    class Endpoint(BaseHTTPRequestHandler):
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
        [sys.executable, "-m", "listguard", "--db", url, "worker", "--poll", "0.05"],
        stdout=subprocess.DEVNULL,
    )
    recorded: dict[int, float] = {}  # contact number -> when its opposition was recorded
    intake: list[float] = []
    total = int(args.rate * args.seconds)
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
    from listguard.propagation import _key

    for message_id, event_id, created_at, contact_id in keys:
        key = _key(int(message_id), int(event_id), int(created_at))
        if key in received:
            latencies.append(received[key] - recorded[int(contact_id[1:])])
    for server in servers:
        server.shutdown()
        server.server_close()
    print(f"| {total:,} oppositions, {args.partners} partner endpoints | |\n|---|---|")
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


if __name__ == "__main__":
    main()
