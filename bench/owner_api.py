"""What a CRM waits for through the owner API, against ``listguard rent`` on the same base.

    python -m bench.owner_api [--contacts 100000] [--pairs 2]

Builds a SQLite registry of the generated base (``bench.import_and_rent``'s files),
serves the application on loopback (``listguard serve``, a process of its own), then
runs pairs, alternately: ``listguard rent`` of the order, and the API's preview then
delivery of the same order (wall time as the client sees it). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

import httpx

from bench.common import OUT, listguard
from bench.import_and_rent import ORDER, generate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args()
    files = generate(args.contacts, OUT / f"input-{args.contacts}")
    folder = OUT / f"owner-api-{args.contacts}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    db = f"sqlite:///{folder / 'registry.db'}"
    listguard("init", db=db)
    for kind in ("partners", "contacts", "events", "suppression"):
        listguard("import", kind, str(files[kind]), db=db)
    key = listguard(
        "api-key", "create", "--scope", "rentals:preview", "--scope", "rentals:deliver", db=db
    ).stdout.strip()
    order = folder / "order.toml"
    order.write_text(ORDER, encoding="utf-8")
    config = folder / "listguard.toml"
    config.write_text(f'[web]\ndeliveries_dir = "{folder / "deliveries"}"\n', encoding="utf-8")
    port = _free_port()
    env = {**os.environ, "LISTGUARD_DATABASE_URL": db}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "listguard",
            "--config",
            str(config),
            "serve",
            "--no-propagate",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    cli: list[float] = []
    preview: list[float] = []
    deliver: list[float] = []
    try:
        with httpx.Client(
            base_url=url, timeout=900, headers={"Authorization": f"Bearer {key}"}
        ) as c:
            for _ in range(200):  # the server starting
                try:
                    c.get("/api/openapi.json")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            for i in range(args.pairs):
                out = folder / f"cli-{i}"
                cli.append(listguard("rent", str(order), "--out", str(out), db=db).seconds)
                start = time.perf_counter()
                shown = c.post("/api/v1/owner/rentals/preview", json={"order_toml": ORDER})
                preview.append(time.perf_counter() - start)
                shown.raise_for_status()
                start = time.perf_counter()
                done = c.post(
                    "/api/v1/owner/rentals/deliver",
                    json={"order_toml": ORDER, "order_hash": shown.json()["order_hash"]},
                )
                deliver.append(time.perf_counter() - start)
                done.raise_for_status()
    finally:
        server.terminate()
        server.wait(timeout=60)
    print(f"| {args.contacts:,} contacts, SQLite, {args.pairs} pairs | median | runs |")
    print("|---|---|---|")
    for name, times in (
        ("`listguard rent` (command, process start included)", cli),
        ("API preview (client's wall time)", preview),
        ("API deliver (client's wall time)", deliver),
    ):
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"| {name} | {statistics.median(times):.2f} s | {runs} |")


if __name__ == "__main__":
    main()
