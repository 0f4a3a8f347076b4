"""An order decided: the :class:`Decision` the rules engine returns.

It holds the in-process DuckDB database the decision was computed in (the
extracts of the registry and the decision's rows) until it is closed, and is the
only way to read them: the counts per channel and reason, the eligible rows,
one contact's rows, and the files of a delivery. Its tables are its own business;
nothing outside ``rules/`` names them.

A delivery first numbers what it delivers (``number_contacts`` for a rental, with
its seeds; ``number_persons`` for an enrichment, one reference per matched
person), which gives each delivered contact its rank ``n`` in a random permutation
of this delivery, the base of its ``contact_ref``; the ledger and the files follow
from it.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from listguard.rules.files import (
    SINGLE_COORDINATE,
    SPREADSHEET_ROWS,
    appended_sql,
    contacts_sql,
    decisions_sql,
    write_parquet,
)
from listguard.rules.files import write_csv as _write_csv
from listguard.rules.pipeline import ELIGIBLE, channel_sql, spell
from listguard.rules.plan import Plan
from listguard.rules.reasons import CODES

if TYPE_CHECKING:
    import duckdb

# the ledger's rows, as ``Decision.ledger`` gives them
LEDGER_ROWS = pa.schema(
    [
        ("delivery_id", pa.int64()),
        ("contact_id", pa.string()),
        ("channel", pa.string()),
        ("coordinate", pa.string()),
        ("contact_ref", pa.string()),
    ]
)


@dataclass
class DecisionCounts:
    """Per channel: how many rows carry each reason, and how many are eligible."""

    excluded: dict[str, dict[str, int]] = field(default_factory=dict)
    eligible: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    masks: set[int] = field(default_factory=set)  # the distinct ones

    def add(self, channel: str, mask: int, n: int) -> None:
        self.masks.add(mask)
        self.rows[channel] = self.rows.get(channel, 0) + n
        if mask == 0:
            self.eligible[channel] = self.eligible.get(channel, 0) + n
        per = self.excluded.setdefault(channel, {})
        for i, code in enumerate(CODES):
            if mask >> i & 1:
                per[code] = per.get(code, 0) + n

    def per_channel(self, channels: Sequence[str]) -> dict[str, dict[str, Any]]:
        """As the manifest tells them: coordinates, eligible, excluded by reason."""
        return {
            ch: {
                "coordinates": self.rows.get(ch, 0),
                "eligible": self.eligible.get(ch, 0),
                "excluded_by_reason": {
                    c: self.excluded[ch][c] for c in CODES if self.excluded.get(ch, {}).get(c)
                },
            }
            for ch in channels
        }


class Decision:
    """Every coordinate of an order decided (one row per contact, channel and
    coordinate, eligible or with its reasons), with the time each step took."""

    def __init__(
        self,
        db: duckdb.DuckDBPyConnection,
        plan: Plan,
        timings: list[tuple[str, float]],
        spill: Path | None = None,
    ) -> None:
        self._db = db
        self.plan = plan
        # (step, seconds) in the order they ran: reading the registry, then the
        # pipeline's steps (``rules/pipeline.py``)
        self.timings = timings
        # the folder DuckDB spills the decision's tables to: this decision's own
        self._spill = spill

    def close(self) -> None:
        """Free the decision's tables (a second or more for a large order) and remove
        what DuckDB spilled of them (personal data) from the disk."""
        self._db.close()
        if self._spill is not None:
            shutil.rmtree(self._spill, ignore_errors=True)

    def forget_rows(self) -> None:
        """Drop the decision's rows once nothing will read them again (their file written,
        the delivered ones numbered apart): the memory they hold (48 million rows at ten
        million contacts) goes to the files written next instead of being spilled to disk
        to make room. DuckDB gives it back once no query begun before the drop is still
        running: the ledger's (``ledger``), when the registry has not taken all of it
        yet, holds it until it ends. What reads the rows (``counts``, ``eligible``,
        ``rows_of``, the decisions file) fails after this."""
        self._db.execute("DROP TABLE IF EXISTS lg_decision; DROP TABLE IF EXISTS lg_spelled")

    def __enter__(self) -> Decision:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- what was decided

    def counts(self) -> DecisionCounts:
        """Per channel, the rows, the eligible ones and the count of each reason (read
        as one row per channel and distinct mask)."""
        counts = DecisionCounts()
        channels = self.plan.order.channels
        for ch, mask, n in self._db.execute(
            "SELECT ch, mask, count(*) FROM lg_decision GROUP BY ALL"
        ).fetchall():
            counts.add(channels[int(ch)], int(mask), int(n))
        return counts

    def contacts_eligible(self) -> int:
        """How many contacts have at least one eligible coordinate."""
        sql = f"SELECT count(DISTINCT cid) FROM lg_decision WHERE {ELIGIBLE}"
        return int(self._db.execute(sql).fetchall()[0][0])

    def eligible(self, batch_rows: int = 100_000) -> pa.RecordBatchReader:
        """The eligible rows (``cid``, ``contact_id``, ``ch``, ``channel``, ``pos``,
        ``coordinate``), in batches."""
        sql = f"SELECT {self._eligible_columns()} FROM lg_decision WHERE {ELIGIBLE}"
        return self._db.sql(sql).to_arrow_reader(batch_rows)

    def _eligible_columns(self, alias: str = "") -> str:
        """The eligible rows' columns, as ``eligible`` gives them (their channel named)."""
        a = f"{alias}." if alias else ""
        channel = channel_sql(self.plan.order.channels, alias)
        return f"{a}cid, {a}contact_id, {a}ch, {channel} AS channel, {a}pos, {a}coordinate"

    def rows_of(self, contact_id: str, channel: str) -> list[tuple[str, str | None]]:
        """One contact's rows on ``channel``: each coordinate (in the contact's order)
        with its ``|``-separated reasons, None when it is eligible."""
        channels = self.plan.order.channels
        if channel not in channels:
            return []
        return [
            (coordinate, spell(mask) or None)
            for coordinate, mask in self._db.execute(
                "SELECT coordinate, mask FROM lg_decision "
                "WHERE contact_id = $c AND ch = $ch ORDER BY pos, coordinate",
                {"c": contact_id, "ch": channels.index(channel)},
            ).fetchall()
        ]

    def events_seen(self) -> int:
        """The registry's last event when it was read: a delivery looks at the events
        recorded since before it commits."""
        return int(self._db.execute("SELECT seen FROM events_seen").fetchall()[0][0])

    # -- numbering what a delivery gives

    def first_free_cid(self) -> int:
        """A ``cid`` past every contact's: where a delivery's seeds are numbered from."""
        sql = "SELECT coalesce(max(cid), 0) + 1 FROM contacts"
        return int(self._db.execute(sql).fetchall()[0][0])

    def _plant(self, seed_rows: pa.Table) -> None:
        self._db.register("lg_seeds_in", seed_rows)
        self._db.execute("CREATE TABLE lg_seeds AS SELECT * FROM lg_seeds_in")
        self._db.unregister("lg_seeds_in")

    def number_contacts(self, seed_rows: pa.Table) -> int:
        """A rental: the eligible rows delivered, the seeds planted (``seed_rows``, shaped
        like the partner's file and numbered from ``first_free_cid``), and each
        delivered contact's or seed's rank ``n`` in a random permutation of this
        delivery (a secret affine map modulo a prime), the base of its
        ``contact_ref``, which so reveals nothing of the owner's id and sets the seeds
        among the contacts. Returns the number of contacts (seeds not counted)."""
        modulus = 2_147_483_647
        db = self._db
        db.execute(
            f"CREATE TABLE lg_elig AS SELECT {self._eligible_columns()} "
            f"FROM lg_decision WHERE {ELIGIBLE}"
        )
        self._plant(seed_rows)
        db.execute(
            "CREATE TABLE lg_refs AS SELECT cid, ROW_NUMBER() OVER ("
            "ORDER BY (cid * $mul + $add) % $mod, cid) AS n FROM "
            "(SELECT DISTINCT cid FROM lg_elig UNION ALL SELECT cid FROM lg_seeds)",
            {
                "mul": secrets.randbelow(modulus - 2) + 2,
                "add": secrets.randbelow(modulus),
                "mod": modulus,
            },
        )
        seeds: int = seed_rows.num_rows
        return int(db.execute("SELECT count(*) FROM lg_refs").fetchall()[0][0]) - seeds

    def number_persons(self, matches: pa.Table, seed_rows: pa.Table) -> int:
        """An enrichment: ``matches`` (each client row's ``status`` and matched
        ``person``), the eligible rows of the matched persons, the seeds (none, as
        ``seed_rows``), and each person's rank ``n`` in a random order, shared by its
        contacts. Returns the number of persons given something."""
        db = self._db
        db.register("lg_match", matches)
        db.execute(
            f"CREATE TABLE lg_elig AS SELECT {self._eligible_columns('d')}, "
            "coalesce(p.cluster_id, d.contact_id) AS person FROM lg_decision d "
            "JOIN lg_person p ON p.cid = d.cid WHERE d.mask = 0 "
            "AND coalesce(p.cluster_id, d.contact_id) IN "
            "(SELECT person FROM lg_match WHERE status = 'matched')"
        )
        self._plant(seed_rows)
        db.execute(
            "CREATE TABLE lg_person_ref AS SELECT person, "
            "ROW_NUMBER() OVER (ORDER BY hash(person || $salt), person) AS n "
            "FROM (SELECT DISTINCT person FROM lg_elig)",
            {"salt": secrets.token_hex(16)},
        )
        db.execute(
            "CREATE TABLE lg_refs AS SELECT DISTINCT e.cid, p.n FROM lg_elig e "
            "JOIN lg_person_ref p USING (person)"
        )
        return int(db.execute("SELECT count(*) FROM lg_person_ref").fetchall()[0][0])

    # -- once numbered: the ledger and the seeds

    def ledger(
        self, delivery_id: int, prefix: str, batch_rows: int = 100_000
    ) -> pa.RecordBatchReader:
        """The ledger's rows (``delivery_id``, ``contact_id``, ``channel``,
        ``coordinate``, ``contact_ref``), in contact_id order, so that the ledger's
        index grows at its end. Streamed in batches by a connection of its own, made
        here: the query runs where the reader is first read, which may be another
        thread, while this one writes the files."""
        cursor = self._db.cursor()
        sql = (
            "SELECT CAST($did AS BIGINT) AS delivery_id, e.contact_id, e.channel, "
            "e.coordinate, $prefix || CAST(r.n AS TEXT) AS contact_ref "
            "FROM lg_elig e JOIN lg_refs r ON r.cid = e.cid ORDER BY e.contact_id"
        )

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                params = {"did": delivery_id, "prefix": prefix}
                for batch in cursor.sql(sql, params=params).to_arrow_reader(batch_rows):
                    yield batch if batch.schema.equals(LEDGER_ROWS) else batch.cast(LEDGER_ROWS)
            finally:
                cursor.close()

        return pa.RecordBatchReader.from_batches(LEDGER_ROWS, batches())

    def planted(self) -> list[dict[str, Any]]:
        """Each planted seed (a handful), by ``seed_id``: its rank ``n``, ``seed_id`` and
        the fields written for it."""
        planted: list[dict[str, Any]] = (
            self._db.sql(
                "SELECT r.n, s.* EXCLUDE (cid) FROM lg_seeds s JOIN lg_refs r USING (cid) "
                "ORDER BY s.seed_id"
            )
            .to_arrow_table()
            .to_pylist()
        )
        return planted

    # -- the files

    def write_csv(
        self,
        sql: str,
        params: dict[str, Any],
        path: Path,
        sep: str,
        order: str | None = None,
        *,
        codes: Collection[str] = (),
        numbers: Collection[str] = (),
    ) -> int:
        """The rows of ``sql`` over the decision's tables as a CSV (``files.write_csv``)."""
        return _write_csv(self._db, sql, params, path, sep, order, codes=codes, numbers=numbers)

    def write_decisions(
        self, folder: Path, sep: str, fmt: str = "csv"
    ) -> tuple[str, int, DecisionCounts]:
        """``decisions.csv``, or ``decisions.parquet`` (``fmt``: "csv", "parquet", or "auto":
        the CSV while its rows and header fit a spreadsheet's sheet), in ``folder``: channel
        by channel in the order's order, then contact by contact in the base's order.
        Returns the file's name, its rows and the count of each reason. The few distinct
        masks are counted and spelled out first; the file joins their spelling."""
        counts = self.counts()
        rows = sum(counts.rows.values())
        if fmt == "auto":
            fmt = "csv" if rows < SPREADSHEET_ROWS else "parquet"
        # the few distinct masks as SQL values (converting Python values to Arrow would
        # load pandas, half a second)
        spelled = ", ".join(
            f"({mask}, '{spell(mask)}')" if mask else f"({mask}, NULL)"
            for mask in sorted(counts.masks)
        )
        self._db.execute("CREATE TABLE lg_spelled (mask BIGINT, reasons VARCHAR)")
        if spelled:
            self._db.execute(f"INSERT INTO lg_spelled VALUES {spelled}")
        name = f"decisions.{fmt}"
        sql = decisions_sql(self.plan.order.channels)
        if fmt == "parquet":
            written = write_parquet(self._db, sql, {}, folder / name, "lg_order")
        else:
            written = self.write_csv(
                sql,
                {},
                folder / name,
                sep,
                order="lg_order",
                codes=("channel", "decision", "reasons"),
                # a number, an email or an address, normalised or kept as given when invalid
                numbers=("coordinate",),
            )
        return name, written, counts

    def write_contacts(self, path: Path, sep: str, params: dict[str, Any]) -> int:
        """A rental's ``contacts.csv`` (``params``: the delivery's ``prefix`` of
        references and the ``source`` named in the file); its number of rows."""
        channels = self.plan.order.channels
        return self.write_csv(
            contacts_sql(channels),
            params,
            path,
            sep,
            "lg_order",
            codes=("contact_ref",),
            numbers=[ch for ch in channels if ch not in SINGLE_COORDINATE],
        )

    def appended(self, prefix: str, params: dict[str, Any]) -> pa.Table:
        """An enrichment: per matched client row given something, its ``client_id``
        and the columns appended to it (``files.appended_sql``)."""
        sql = appended_sql(self.plan.order.channels, prefix)
        return self._db.sql(sql, params=params).to_arrow_table()


def timing_lines(timings: Sequence[tuple[str, float]]) -> list[str]:
    """The time of each step of a decision, a line each, as ``--verbose`` prints them,
    and their total."""
    width = max((len(name) for name, _ in timings), default=0)
    lines = [f"{name:<{width}}  {seconds:8.3f} s" for name, seconds in timings]
    total = sum(seconds for _, seconds in timings)
    return [*lines, f"{'deciding, in all':<{width}}  {total:8.3f} s"]


__all__ = ["LEDGER_ROWS", "Decision", "DecisionCounts", "timing_lines"]
