"""The public opposition form, the opposition API and the collection API under a steady
load, on SQLite.

    python -m bench.web_load [--contacts 100000] [--rate 300] [--seconds 20] [--workers 1]

Builds a demo registry of ``--contacts`` contacts (with its rentals, so oppositions
have partners to reach), starts ``listguard serve`` in its own process, and sends
``--rate`` requests per second for ``--seconds`` from another process (an open loop:
each request leaves at its scheduled time whether or not earlier ones were answered,
and its latency counts from that time, so a slow server cannot hide its queue). Two
runs: POST /opposition (the public form, as a browser posts it), POST
/api/v1/oppositions and POST /api/v1/collections (a machine key). Every opposition
is recorded and queues its messages; every collection records a new contact and
its proof. The form's per-client limit is switched off for the run: the
load comes from one address. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import OUT


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _request(path: str, body: bytes, content_type: str, headers: dict[str, str]) -> bytes:
    """A whole HTTP/1.1 POST, encoded once."""
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    """Send one request on a kept-alive connection and read the whole answer."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def load(
    port: int, rate: int, seconds: float, make: Any, emails: list[str]
) -> tuple[list[float], dict[int, int], float, float]:
    """An open loop over raw kept-alive connections (opened as needed, up to 512): a
    request leaves at its time whether or not earlier ones were answered. The client
    costs little CPU per request, so that it measures the server, not itself. Returns
    the latencies, the count per status, the rate reached, and the wall-clock time
    request 0 was due (request i: i / rate later)."""
    latencies: list[float] = []
    codes: dict[int, int] = {}
    total = int(rate * seconds)
    # kept-alive connections and when each was last used: the server closes one left idle
    # for its keep-alive timeout (uvicorn: 5 s), so an older one is not reused, as an HTTP
    # client's pool does not (reusing it would count a request the server never read)
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
    opened = 0
    slots = asyncio.Semaphore(512)
    requests = [make(emails[i % len(emails)]) for i in range(total)]
    start = time.perf_counter() + 0.2

    async def one(i: int) -> None:
        nonlocal opened
        async with slots:
            conn = None
            while idle and conn is None:
                reader, writer, used = idle.pop()
                if reader.at_eof() or time.perf_counter() - used > 4.0:
                    writer.close()
                else:
                    conn = (reader, writer)
            if conn is None:
                conn = await asyncio.open_connection("127.0.0.1", port)
                opened += 1
            try:
                code = await _exchange(*conn, requests[i])
                idle.append((*conn, time.perf_counter()))
            except (OSError, asyncio.IncompleteReadError, ValueError):
                code = 0
                conn[1].close()
        latencies.append(time.perf_counter() - (start + i / rate))
        codes[code] = codes.get(code, 0) + 1

    tasks = []
    for i in range(total):  # each request is started at its time, not before
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for _, writer, _used in idle:
        writer.close()
    return latencies, codes, total / elapsed, time.time() - (time.perf_counter() - start)


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--keep", action="store_true", help="Reuse the registry of the last run.")
    parser.add_argument("--profile", action="store_true", help="py-spy records the server.")
    parser.add_argument("--only", default="", help="Only the runs whose route contains this.")
    args = parser.parse_args()

    import httpx

    folder = OUT / "web_load"
    exe = [sys.executable, "-m", "listguard"]
    demo = folder / "demo"
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run(
            [*exe, "demo", "--contacts", str(args.contacts), "--out", str(demo)],
            check=True,
            capture_output=True,
        )
    pristine = folder / "pristine.db"  # every run starts from the registry as built
    if not args.keep or not pristine.exists():
        shutil.copy(demo / "listguard.db", pristine)
    for suffix in ("-wal", "-shm"):
        Path(f"{demo / 'listguard.db'}{suffix}").unlink(missing_ok=True)
    shutil.copy(pristine, demo / "listguard.db")
    config = demo / "listguard.toml"
    settings = config.read_text(encoding="utf-8")
    if "form_rate_per_minute" not in settings:
        settings = settings.replace("[web]\n", "[web]\nform_rate_per_minute = 0\n")
        config.write_text(settings, encoding="utf-8")
    db = f"sqlite:///{demo / 'listguard.db'}"
    key = subprocess.run(
        [
            *exe,
            *("--db", db, "api-key", "create"),
            *("--scope", "oppositions:write", "--scope", "collections:write"),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    import sqlite3

    with sqlite3.connect(demo / "listguard.db") as reg:
        emails = [
            r[0]
            for r in reg.execute("SELECT email_norm FROM contacts WHERE email_status = 'valid'")
        ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    spy = (
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "-o",
            str(folder / "profile.txt"),
            "-f",
            "raw",
            "--",
        ]
        if args.profile
        else []
    )
    server = subprocess.Popen(
        [
            *spy,
            *exe,
            "--db",
            db,
            "--config",
            str(config),
            "serve",
            "--port",
            str(args.port),
            "--workers",
            str(args.workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(200):
            try:
                form = httpx.get(f"{url}/opposition", timeout=2).text
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise SystemExit("the server did not start")
        found = re.search(r'name="token" value="([^"]+)"', form)
        assert found
        token = found.group(1)

        from urllib.parse import urlencode

        def form_post(email: str) -> bytes:
            data = {"token": token, "email": email, "channel": "email", "scope": "all"}
            return _request(
                "/opposition", urlencode(data).encode(), "application/x-www-form-urlencoded", {}
            )

        def api_post(email: str) -> bytes:
            body = json.dumps({"email": email, "channel": "sms", "scope": "partners"})
            return _request(
                "/api/v1/oppositions",
                body.encode(),
                "application/json",
                {"Authorization": f"Bearer {key}"},
            )

        from itertools import count

        serial = count()

        def collection_post(email: str) -> bytes:
            n = next(serial)
            body = json.dumps(
                {
                    "idempotency_key": f"bench-form-{n:09d}",
                    "person": {
                        "contact_id": f"W{n:09d}",
                        "first_name": "Léa",
                        "last_name": "Morel",
                        "email": f"w{n}.{email}",
                        "postal_code": "69003",
                        "city": "Lyon",
                        "address_line4": "8 rue des Lilas",
                    },
                    "choices": {"partners_email": "consent", "partners_postal": "informed"},
                    "notice_version": "v7",
                    "ip": "203.0.113.9",
                    "user_agent": "Mozilla/5.0",
                }
            )
            return _request(
                "/api/v1/collections",
                body.encode(),
                "application/json",
                {"Authorization": f"Bearer {key}"},
            )

        rows = []
        runs = [
            ("public form POST /opposition", form_post),
            ("API POST /api/v1/oppositions", api_post),
            ("API POST /api/v1/collections", collection_post),
        ]
        if os.environ.get("BENCH_API_FIRST"):
            runs.reverse()
        runs = [r for r in runs if args.only in r[0]]
        for label, make in runs:
            cpu = _cpu_seconds(server.pid)
            lat, codes, reached, _start = asyncio.run(
                load(args.port, args.rate, args.seconds, make, emails)
            )
            per = (_cpu_seconds(server.pid) - cpu) / max(1, sum(codes.values())) * 1000
            rows.append(
                f"| {label} | {args.rate}/s for {args.seconds:.0f} s | {reached:.0f}/s | "
                f"{_percentile(lat, 0.5) * 1000:.1f} ms | {_percentile(lat, 0.99) * 1000:.1f} ms | "
                f"{', '.join(f'{c}: {n}' for c, n in sorted(codes.items()))} | {per:.2f} ms |"
            )
    finally:
        server.send_signal(2 if args.profile else 15)
        server.wait(timeout=60)
    print(
        f"SQLite registry of {args.contacts:,} contacts, `listguard serve --workers "
        f"{args.workers}`, load generator in another process on loopback\n"
    )
    print("| route | offered | reached | p50 | p99 | responses | server CPU per request |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
