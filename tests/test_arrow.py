"""Moving tables between the registry and Arrow: types, nulls, empty strings, snapshots."""

from __future__ import annotations

import pyarrow as pa
import pytest
from sqlalchemy import Engine, text

from listguard.db.arrow import Query, fetch_arrow, staged
from listguard.db.engine import one_snapshot

AWKWARD = ["", None, 'a;b,"c"', "line\nbreak", "é€œ’", "  spaced  "]


def _fill(engine: Engine, n: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t_arrow (k INTEGER PRIMARY KEY, s TEXT, i BIGINT)"))
        # the first rows hold only NULLs, which must not decide the column's type
        early: list[dict[str, object]] = [
            {"k": k, "s": None, "i": None} for k in range(min(n, 2500))
        ]
        late: list[dict[str, object]] = [
            {"k": k, "s": AWKWARD[k % len(AWKWARD)], "i": k * 10} for k in range(2500, n)
        ]
        conn.execute(text("INSERT INTO t_arrow (k, s, i) VALUES (:k, :s, :i)"), early + late)


def test_fetch_keeps_types_nulls_and_empty_strings_in_order(any_engine: Engine) -> None:
    _fill(any_engine, 4000)
    schema = pa.schema([("k", pa.int64()), ("s", pa.string()), ("i", pa.int64())])
    query = Query(
        "SELECT k, s, i FROM t_arrow WHERE k >= :low",
        schema,
        {"low": 0},
        split=("k", "SELECT min(k), max(k) FROM t_arrow"),
    )
    with any_engine.connect() as raw:
        conn = one_snapshot(raw)
        tables = fetch_arrow(
            conn, {"t": query, "again": Query("SELECT k, s, i FROM t_arrow WHERE 1 = 1", schema)}
        )
    got = tables["t"]
    assert got.schema == schema
    assert got.column("k").to_pylist() == list(range(4000))  # the ranges come back in order
    values = got.column("s").to_pylist()
    assert values[:2500] == [None] * 2500
    assert values[2500:] == [AWKWARD[k % len(AWKWARD)] for k in range(2500, 4000)]
    assert got.column("i").to_pylist()[3999] == 39990
    assert tables["again"].num_rows == 4000


def test_fetch_of_nothing_is_an_empty_table_of_the_schema(any_engine: Engine) -> None:
    _fill(any_engine, 10)
    schema = pa.schema([("k", pa.int64()), ("s", pa.string())])
    with any_engine.connect() as conn:
        got = fetch_arrow(conn, {"t": Query("SELECT k, s FROM t_arrow WHERE k < 0", schema)})
    assert got["t"].num_rows == 0 and got["t"].schema == schema


@pytest.mark.parametrize("rows", [0, 3, 25_000])
def test_staged_rows_read_back_exactly(any_engine: Engine, rows: int) -> None:
    schema = pa.schema([("n", pa.int64()), ("s", pa.string())])
    table = pa.table(
        {"n": list(range(rows)), "s": [AWKWARD[n % len(AWKWARD)] for n in range(rows)]},
        schema=schema,
    )
    with any_engine.connect() as conn, staged(conn, "probe", table, schema) as name:
        back = conn.execute(text(f"SELECT n, s FROM {name} ORDER BY n")).all()
        conn.rollback()
    assert [tuple(r) for r in back] == list(
        zip(table["n"].to_pylist(), table["s"].to_pylist(), strict=True)
    )
