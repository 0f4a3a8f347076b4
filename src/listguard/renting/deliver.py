"""Renting: decide an order, write the delivery folder, record the ledger.

The delivery folder (``shared/spec/formats.md``) is written to a hidden folder
beside ``out`` (``leftovers``) and moved in place only after the transaction
that records the delivery and its ledger has committed: a folder at ``out`` is
always that of a recorded delivery. A rental stopped before its commit leaves
only the hidden folder, which the next ``rent`` removes. The base itself is
only read.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
from sqlalchemy import Connection, Engine, insert, text, update

from listguard import __version__
from listguard.calls.calendar import manifest_entry
from listguard.config import Settings
from listguard.db import schema
from listguard.errors import InputError, ListguardError
from listguard.io.digest import file_sha256
from listguard.propagation.outbox import enqueue_for_delivery
from listguard.renting import leftovers, seeds
from listguard.renting.notice import notice_text
from listguard.renting.order import Order
from listguard.renting.partner_list import partner_list_version
from listguard.rules.decision import LEDGER_ROWS, Decision
from listguard.rules.engine import decide
from listguard.rules.offers import banned_offer_rules
from listguard.rules.plan import make_plan
from listguard.storage.base import Tx, WriteFailed
from listguard.storage.engine import one_snapshot
from listguard.storage.open import open_storage
from listguard.timeutil import now_ts, to_iso

FETCH = 100_000
T = TypeVar("T")


@dataclass
class DeliveryReport:
    delivery_id: int
    out: Path
    packs: tuple[str, ...]
    contacts_delivered: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # channel -> reason -> n
    eligible: dict[str, int] = field(default_factory=dict)  # channel -> eligible coordinates
    rows: int = 0
    # messages queued to the partner for oppositions the registry held, dated after the
    # order's as_of (a backdated order)
    forwarded: int = 0
    # messages queued to the partner, with the delivery, for the oppositions and
    # rectifications recorded while the order was being decided that cover delivered
    # coordinates, and how many coordinates they cover
    forwarded_meanwhile: int = 0
    covered_meanwhile: int = 0
    # each step of the decision and its seconds (``Decision.timings``)
    timings: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class Output:
    """What a delivery gives the partner: a rental's ``contacts.csv`` or an enrichment's
    ``enriched.csv``. ``number`` numbers what the decision delivers
    (``Decision.number_contacts`` or ``number_persons``) and returns the number of
    persons delivered; ``write`` writes the partner's file (and any file for the
    owner) into the folder and returns their names."""

    kind: str
    partner_file: str
    number: Callable[[Connection, Decision, Order], int]
    write: Callable[[Decision, Path, dict[str, Any], str], list[str]]
    manifest: dict[str, Any] = field(default_factory=dict)  # sections added to the manifest


def rent(
    engine: Engine,
    order: Order,
    out: Path,
    settings: Settings,
    *,
    progress: Callable[[str], None] | None = None,
) -> DeliveryReport:
    """Decide ``order``, write the delivery folder at ``out`` and record the delivery."""
    pool = _seed_pool(order, settings)

    def number(conn: Connection, decision: Decision, order: Order) -> int:
        chosen = seeds.choose(conn, pool, order.channels, order.seeds, "order: seeds")
        first = decision.first_free_cid()
        return decision.number_contacts(seeds.seed_table(chosen, order.channels, first))

    def write(decision: Decision, folder: Path, params: dict[str, Any], sep: str) -> list[str]:
        decision.write_contacts(folder / "contacts.csv", sep, params)
        return ["contacts.csv"]

    return deliver(
        engine,
        order,
        out,
        settings,
        Output("rental", "contacts.csv", number, write),
        progress=progress,
    )


def deliver(
    engine: Engine,
    order: Order,
    out: Path,
    settings: Settings,
    output: Output,
    *,
    only: pa.Array | None = None,
    progress: Callable[[str], None] | None = None,
) -> DeliveryReport:
    """Decide ``order`` (on the contacts ``only`` names, when given), write the
    delivery folder at ``out`` and record the delivery and its ledger. ``engine``'s
    registry is one ``listguard init`` made (``check_initialised``: each command, and
    the web application at its start, checks it once)."""
    step = progress or (lambda _msg: None)
    partial = leftovers.claim(out)
    tmp = partial.path
    storage = open_storage(engine)
    committing = committed = False
    try:
        with contextlib.ExitStack() as stack:
            # the delivery's transaction begins now: on a SQLite file, the writer process
            # that records it starts while the order is decided (ADR 0014)
            tx = stack.enter_context(storage.transaction())
            raw = stack.enter_context(engine.connect())
            conn = one_snapshot(raw)
            step("deciding")
            plan = make_plan(conn, order, settings.rules, only=only)
            decision = decide(storage, conn, plan, settings.engine)
            closing: threading.Thread | None = None
            try:
                n = output.number(conn, decision, order)
                step("recording the ledger")
                existed = out.exists()  # an empty folder made beforehand
                report = _deliver(conn, decision, tx, n, tmp, out, settings, step, output)
                # DuckDB frees its tables (a second or more for a large order) while
                # the registry commits
                closing = threading.Thread(target=decision.close, name="listguard-duckdb")
                closing.start()
                step("delivering")
                leftovers.check_still_free(out, existed)
                committing = True
                tx.commit()
                committed = True
                # recorded: only now may the folder appear where it was asked for
                leftovers.put_in_place(tmp, out, report.delivery_id)
            finally:
                if closing is None:
                    decision.close()
                else:
                    closing.join()
        return report
    except WriteFailed as exc:
        raise ListguardError(
            f"cannot record the delivery: {exc.message}", where=exc.where
        ) from None
    finally:
        if not committed:
            leftovers.settle(engine, tmp, out, committing=committing)
        partial.release()


def _in_future(work: Callable[..., T], *args: Any) -> Future[T]:
    """``work(*args)`` started in a thread of its own."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="listguard-delivery")
    future = pool.submit(work, *args)
    pool.shutdown(wait=False)
    return future


def _record_ledger(tx: Tx, decision: Decision, delivery_id: int, prefix: str) -> Future[object]:
    """Start writing the ledger (the delivered rows under their references), in a thread:
    the registry records it while DuckDB writes the files."""
    rows = decision.ledger(delivery_id, prefix, FETCH)
    return _in_future(tx.ingest, "ledger", rows, LEDGER_ROWS)


def _seed_pool(order: Order, settings: Settings) -> list[seeds.Seed]:
    if not order.seeds:
        return []
    if not settings.seeds.file:
        raise InputError(
            f"seeds = {order.seeds}, but no seed file is configured: set [seeds] file in the "
            "configuration (see docs/configuration.md), or seeds = 0",
            where="order",
            fr=f"commande : seeds = {order.seeds}, mais aucun fichier de témoins n'est "
            "configuré : indiquez [seeds] file dans la configuration, ou seeds = 0",
        )
    return seeds.load_seeds(settings.seeds.file)


def _record_seeds(tx: Tx, decision: Decision, delivery_id: int, prefix: str) -> list[str]:
    """Each planted seed in ``delivery_seeds``, with its fields as written; its ids."""
    ids = []
    for rec in decision.planted():  # a handful of rows: the seeds of one order
        n, sid = rec.pop("n"), rec.pop("seed_id")
        fields = {k: v for k, v in rec.items() if v is not None}
        tx.execute(
            insert(schema.delivery_seeds).values(
                delivery_id=delivery_id,
                seed_id=sid,
                contact_ref=f"{prefix}{n}",
                planted=json.dumps(fields, ensure_ascii=False, sort_keys=True),
            )
        )
        ids.append(sid)
    return ids


def _deliver(
    conn: Connection,
    decision: Decision,
    tx: Tx,
    n: int,
    tmp: Path,
    out: Path,
    settings: Settings,
    step: Callable[[str], None],
    output: Output,
) -> DeliveryReport:
    plan = decision.plan
    order = plan.order
    dend = plan.params.dend
    sep = settings.output.csv_delimiter
    version, version_start = partner_list_version(conn, dend)
    created = now_ts()
    delivery_id = tx.execute(
        insert(schema.deliveries)
        .values(
            partner_id=order.partner,
            order_text=order.text,
            order_sha256=_sha_text(order.text),
            as_of=order.as_of.isoformat(),
            channels="|".join(order.channels),
            packs="|".join(plan.applied.ids),
            partner_list_version=version,
            created_at=created,
            out_dir=str(out.resolve()),
            contacts_delivered=0,
            kind=output.kind,
        )
        .returning(schema.deliveries.c.id)
    )[0][0]
    prefix = f"D{delivery_id}-"
    before = tx.execute(_LAST_LEDGER_ID)[0][0]
    # the registry records the ledger while DuckDB writes the files beside it
    recorded = _record_ledger(tx, decision, delivery_id, prefix)
    try:
        step("writing decisions")
        decisions, decisions_rows, tally = decision.write_decisions(
            tmp, sep, settings.delivery.decisions_format
        )
        # its digest (half a second for a large file) is taken while the next is written
        digests = {decisions: _in_future(file_sha256, tmp / decisions)}
        decision.forget_rows()  # read by nothing from here on: numbered, counted, written
        step("writing the partner's file")
        written = output.write(
            decision, tmp, {"prefix": prefix, "source": settings.owner.name}, sep
        )
    except BaseException:
        with contextlib.suppress(Exception):  # the first error is the one to report
            recorded.result()
        raise
    recorded.result()
    planted = _record_seeds(tx, decision, delivery_id, prefix)
    seen = decision.events_seen()
    _refuse_if_erased(tx, seen)
    forwarded = _forward_later_oppositions(tx, seen, delivery_id, dend)
    meanwhile, covered = _forward_events_since(tx, seen, delivery_id)
    counts, eligible = tally.excluded, tally.eligible
    (tmp / "notice.txt").write_text(
        notice_text(settings.owner, plan.partner, order), encoding="utf-8"
    )
    screenings = [
        to_iso(int(r[0]))[:10]
        for r in conn.execute(
            text(
                "SELECT DISTINCT screened_at FROM bloctel_screenings "
                "WHERE screened_at >= :f AND screened_at <= :t ORDER BY screened_at"
            ),
            {"f": plan.params.bloctel_from, "t": dend},
        )
        if any(ch in ("phone", "automated_call") for ch in order.channels)
    ]
    manifest: dict[str, Any] = {
        "format_version": 1,
        "kind": output.kind,
        "software": {"name": "listguard", "version": __version__},
        "delivery_id": delivery_id,
        "created_at": to_iso(created),
        "owner": settings.owner.name,
        "partner": {
            "partner_id": plan.partner.partner_id,
            "name": plan.partner.name,
            "category": plan.partner.category,
        },
        "order": {
            "channels": list(order.channels),
            "purpose": order.purpose,
            "call_purpose": order.call_purpose,
            "offer": order.offer,
            "campaign_start": order.campaign_start.isoformat(),
            "campaign_end": order.campaign_end.isoformat(),
            "as_of": order.as_of.isoformat(),
            "limit": order.limit,
            "segment": {
                "postal_code_prefix": list(order.segment.postal_code_prefix),
                "audience": order.segment.audience,
            },
            "sha256": _sha_text(order.text),
        },
        "rule_packs": [
            {"id": p.id, "in_force_from": p.start.isoformat(), "sources": list(p.sources)}
            for p in plan.applied.packs
        ],
        "rules": {
            "retention_years": settings.rules.retention_years,
            "bloctel_validity_days": settings.rules.bloctel_validity_days,
            "phone_consent_max_age_days": settings.rules.phone_consent_max_age_days,
            "bloctel_screening": "required" if plan.applied.bloctel_required else "optional",
            "regimes": {
                ch: {a: plan.applied.regime(ch, a) for a in ("b2c", "b2b")} for ch in order.channels
            },
            "banned_offer": banned_offer_rules(order),
        },
        "partner_list_version": {
            "version": version,
            "since": to_iso(version_start)[:10] if version_start else None,
        },
        "bloctel_screening_dates": screenings,
        **manifest_entry(order.channels),
        "counts": tally.per_channel(order.channels),
        "contacts_delivered": n,
        "seeds": {"planted": len(planted), "seed_ids": planted},
        "decision_rows": decisions_rows,
        # the owner's file of every decision: decisions.csv, or decisions.parquet for a
        # base too large for a spreadsheet ([delivery] decisions_format)
        "decisions_file": decisions,
        # sent to the partner with the delivery: its coordinates that events the
        # decision did not take into account cover (docs/propagation.md)
        "forwarded": {
            "oppositions_dated_after_as_of": forwarded,
            "events_recorded_while_deciding": meanwhile,
            "coordinates_they_cover": covered,
        },
        **output.manifest,
        "files": {
            name: digests[name].result() if name in digests else file_sha256(tmp / name)
            for name in (*written, "notice.txt", decisions)
        },
    }
    body = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    (tmp / "manifest.json").write_text(body, encoding="utf-8")
    last = tx.execute(_LAST_LEDGER_ID)[0][0]
    tx.execute(
        update(schema.deliveries)
        .where(schema.deliveries.c.id == delivery_id)
        .values(
            contacts_delivered=n,
            manifest_sha256=_sha_text(body),
            ledger_first_id=before + 1,
            ledger_last_id=last,
        )
    )
    return DeliveryReport(
        delivery_id=delivery_id,
        out=out,
        packs=plan.applied.ids,
        contacts_delivered=n,
        counts=counts,
        eligible=eligible,
        rows=decisions_rows,
        forwarded=forwarded,
        forwarded_meanwhile=meanwhile,
        covered_meanwhile=covered,
        timings=decision.timings,
    )


_LAST_LEDGER_ID = text("SELECT coalesce(max(id), 0) FROM ledger")


def _refuse_if_erased(tx: Tx, seen: int) -> None:
    """Refuse a delivery (its transaction is then rolled back) if a person was erased
    after the decision's snapshot: the erased person's events no longer name them, so
    the delivery could hold them and nothing could tell the partner. From here on no
    event is recorded until this transaction ends, so an event recorded after it sees
    the delivery's ledger. ``seen``: the last event in the decision's snapshot."""
    tx.lock_events()
    if tx.execute(_ERASED_SINCE, {"seen": seen})[0][0]:
        raise ListguardError(
            "a person was erased while this order was being decided: nothing was "
            "delivered and nothing recorded; run the same order again, and it will be "
            "decided without that person",
            fr="une personne a été effacée pendant la décision de cette commande : rien "
            "n'a été livré ni enregistré ; relancez la même commande, elle sera décidée "
            "sans cette personne",
        )


def _forward_events_since(tx: Tx, seen: int, delivery_id: int) -> tuple[int, int]:
    """Queue for the partner, in the delivery's transaction, the oppositions and
    rectifications recorded after the decision's snapshot (``seen``, its last event)
    that cover a delivered coordinate: their own forwarding could not see this
    delivery, which was not yet recorded. The files stay as decided; the partner is
    told as of any opposition received after a delivery. Returns the messages queued
    and the delivered coordinates they cover."""
    params = {"seen": seen, "did": delivery_id}
    messages = enqueue_for_delivery(tx, "e.id > :seen", params)
    if not messages:
        return 0, 0
    covered = tx.execute(_COVERED_SINCE, params)[0][0]
    return messages, int(covered)


_COVERED_SINCE = text(
    "SELECT count(DISTINCT i.contact_ref || '|' || i.channel || '|' || i.coordinate) "
    "FROM outbox o JOIN outbox_items i ON i.message_id = o.id "
    "WHERE o.delivery_id = :did AND o.event_id > :seen"
)


def _forward_later_oppositions(tx: Tx, seen: int, delivery_id: int, dend: int) -> int:
    """Queue for the partner, in the delivery's transaction, the oppositions the
    decision's snapshot held but dated after the order's as_of (``dend``, the end of
    that day): the rules leave them out of a backdated order, so the file can hold
    coordinates they cover, and the partner must be told of them as of any opposition
    the owner receives. (A rectification or erasure needs nothing: the file holds the
    contact's corrected values, and no erased person.) Returns how many messages were
    queued."""
    return enqueue_for_delivery(
        tx,
        "e.event = 'opposition' AND e.at > :dend AND e.id <= :seen",
        {"dend": dend, "seen": seen, "did": delivery_id},
    )


_ERASED_SINCE = text("SELECT count(*) FROM events WHERE id > :seen AND event = 'erasure'")


def _sha_text(body: str) -> str:
    import hashlib

    return hashlib.sha256(body.encode("utf-8")).hexdigest()


__all__ = ["DeliveryReport", "Output", "deliver", "rent"]
