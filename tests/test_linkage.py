"""Deduplication and linkage of files: the same person written differently is found,
with the fields that agreed; bad input is refused with a clear message."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine

from listguard.demo.duplicates import ERRORS, HEADER, write_duplicates
from listguard.errors import InputError
from listguard.processing.linkage import link_files
from tests.test_cli import ok, user_error


def _base(tmp: Path, persons: int = 1500) -> tuple[Path, dict[tuple[str, str], str]]:
    path = tmp / "base.csv"
    return path, write_duplicates(path, persons)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as f:
        return list(csv.DictReader(f, delimiter=";"))


def test_duplicates_of_every_kind_are_found_without_false_pairs(tmp_path: Path) -> None:
    path, truth = _base(tmp_path)
    report = link_files([path], tmp_path / "out")
    found = {
        tuple(sorted((r["id_a"], r["id_b"]))): r for r in _read(tmp_path / "out" / "pairs.csv")
    }
    true_pairs = {tuple(sorted(p)) for p in truth}
    hits = set(found) & true_pairs
    precision = len(hits) / len(found)
    assert precision >= 0.98, sorted(set(found) - true_pairs)[:5]
    for kind in ERRORS:
        of_kind = {tuple(sorted(p)) for p, k in truth.items() if k == kind}
        recall = len(of_kind & hits) / len(of_kind)
        assert recall >= 0.9, (kind, recall, sorted(of_kind - hits)[:3])
    # the fields that agreed are named; the moved person matched on mobile and email
    moved = next(tuple(sorted(p)) for p, k in truth.items() if k == "moved")
    assert {"tel", "email"} <= set(found[moved]["agreed"].split(";"))
    assert "street" not in found[moved]["agreed"].split(";")
    clusters = {r["id"]: r["cluster_id"] for r in _read(tmp_path / "out" / "clusters.csv")}
    assert len(clusters) == report.records
    a, b = next(iter(hits))
    assert clusters[a] == clusters[b]


def test_two_files_are_linked_and_each_id_is_named_with_its_file(tmp_path: Path) -> None:
    path, truth = _base(tmp_path, persons=600)
    rows = _read(path)
    originals = [r for r in rows if r["contact_id"].startswith("C")]
    duplicates = [r for r in rows if r["contact_id"].startswith("D")]
    for name, part in (("a.csv", originals), ("b.csv", duplicates)):
        with (tmp_path / name).open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, HEADER, delimiter=";")
            writer.writeheader()
            writer.writerows(part)
    ok(
        tmp_path,
        "link",
        str(tmp_path / "a.csv"),
        str(tmp_path / "b.csv"),
        "--out",
        str(tmp_path / "l"),
    )
    pairs = _read(tmp_path / "l" / "pairs.csv")
    assert pairs and all(p["id_a"].startswith("C") and p["id_b"].startswith("D") for p in pairs)
    found = {(p["id_a"], p["id_b"]) for p in pairs}
    assert len(found & set(truth)) / len(truth) >= 0.9
    clusters = _read(tmp_path / "l" / "clusters.csv")
    assert {c["file"] for c in clusters} == {"a", "b"}


def test_a_file_that_would_make_too_many_pairs_is_refused_before_any_comparison(
    tmp_path: Path,
) -> None:
    """[engine] max_pairs: the candidate pairs the passes make are counted first, and
    past the limit nothing is compared or written, with what makes them named."""
    from listguard.config import EngineSettings, Settings
    from listguard.processing.linkage.blocking import blocking_keys, candidate_pairs
    from listguard.processing.linkage.fields import filled_fields, prepare

    path, _ = _base(tmp_path, persons=300)
    rows = _read(path)
    frame = prepare(pl.DataFrame(rows), pl.Series([r["contact_id"] for r in rows]), [])
    with_keys, keys = blocking_keys(frame, filled_fields(frame))
    counts = candidate_pairs(with_keys, keys)
    total = sum(counts.values())
    # a key of n rows makes n(n-1)/2 pairs, in every pass
    first = keys[0]
    sizes = with_keys.group_by(first).len().drop_nulls(first)["len"].to_list()
    assert counts[first] == sum(n * (n - 1) // 2 for n in sizes) > 0
    tight = Settings(engine=EngineSettings(max_pairs=total - 1))
    with pytest.raises(InputError) as refused:
        link_files([path], tmp_path / "refused", settings=tight)
    told = str(refused.value)
    assert f"up to {total:,} candidate pairs" in told and "max_pairs" in told
    # the passes named by their fields, with their counts, the largest first
    top = max(counts.values())
    assert re.search(rf"make most: [a-z]+(\+[a-z]+)? {top:,}[,.]", told), told
    assert not (tmp_path / "refused").exists()
    exact = Settings(engine=EngineSettings(max_pairs=total))
    assert link_files([path], tmp_path / "kept", settings=exact).records == len(rows)


def test_candidate_pairs_are_counted_within_a_file_or_across_two() -> None:
    from listguard.processing.linkage.blocking import candidate_pairs

    keys = pl.DataFrame({"bk0": ["x", "y", "x", "x", None, None], "bk1": ["z"] * 6})
    # one file: x three times (3 pairs), y once, nulls never; z six times (15)
    assert candidate_pairs(keys, ["bk0", "bk1"]) == {"bk0": 3, "bk1": 15}
    # two files, the first of 2 rows: a row of each only (x: 1 x 2, z: 2 x 4)
    assert candidate_pairs(keys, ["bk0", "bk1"], first=2) == {"bk0": 2, "bk1": 8}
    # the names swapped, which the model blocks on too: at most a row's names against
    # each other row's swapped, both ways (three THOMAS|MARTIN, three MARTIN|THOMAS:
    # 9 pairs to compare, bounded by 18)
    names = ["THOMAS|MARTIN"] * 3 + ["MARTIN|THOMAS"] * 3
    swapped = pl.DataFrame({"bk0": names, "bk0_swapped": names[3:] + names[:3]})
    assert candidate_pairs(swapped, ["bk0", "bk0_swapped"]) == {"bk0": 6, "bk0_swapped": 18}
    across = candidate_pairs(swapped, ["bk0", "bk0_swapped"], first=3)
    assert across == {"bk0": 0, "bk0_swapped": 18}


def test_another_layout_is_read_through_maps_and_bad_input_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "clients.csv"
    source.write_text(
        "Ref;Prenom;Nom;Naissance;Carte\n1;Marie;Dupont;1980-05-12;A1\n"
        "2;Marie;Dupond;1980-05-12;A1\n3;Jean;Martin;1975-01-01;B2\n1;Paul;Petit;1990-01-01;C3\n",
        encoding="utf-8",
    )
    maps = ["--map", "Prenom=first_name", "--map", "Nom=last_name", "--map", "Naissance=birth_date"]
    duplicated = user_error(
        tmp_path, "dedupe", str(source), "--out", str(tmp_path / "o"), "--id", "Ref", *maps
    )
    assert "'1' names several rows" in duplicated
    assert "no such column" in user_error(
        tmp_path, "dedupe", str(source), "--out", str(tmp_path / "o"), *maps, "--compare", "nope"
    )
    assert "between 0 and 1" in user_error(
        tmp_path, "dedupe", str(source), "--out", str(tmp_path / "o"), *maps, "--threshold", "1.5"
    )
    assert "no usable column" in user_error(
        tmp_path, "dedupe", str(source), "--out", str(tmp_path / "o")
    )
    assert not (tmp_path / "o" / "pairs.csv").exists()
    # a row the CSV reader cannot split is never dropped silently
    broken = tmp_path / "broken.csv"
    broken.write_text(
        "contact_id;first_name;last_name\n1;Marie;Durand\n2;Jean;Dupont;extra\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match="line 3: this row has 4 fields"):
        link_files([broken], tmp_path / "o")
    names_only = tmp_path / "names.csv"
    names_only.write_text("contact_id;last_name\n1;Dupont\n2;Dupond\n", encoding="utf-8")
    with pytest.raises(InputError, match="too few fields"):
        link_files([names_only], tmp_path / "o")


def test_every_contacts_column_may_be_mapped_and_one_a_command_has_no_use_for_is_noted(
    tmp_path: Path,
) -> None:
    """``--map`` takes any column of the contacts format: link has no use for address
    line 3 (it compares addresses by lines 4 and 5), so it says so and goes on; a map
    onto the id column names the rows; a column no format has is still refused."""
    from tests.test_cli import cli

    head = "Ref;Prenom;Nom;Naissance;Mail;Batiment\n"
    (tmp_path / "a.csv").write_text(
        head + "1;Marie;Dupont;1980-05-12;marie.dupont@example.com;Bât A\n"
        "2;Jean;Martin;1975-01-01;jean.martin@example.com;Bât B\n"
        "3;Paul;Petit;1990-02-03;paul.petit@example.org;\n",
        encoding="utf-8",
    )
    (tmp_path / "b.csv").write_text(
        head + "7;Marie;Dupont;1980-05-12;marie.dupont@example.com;Bât A\n"
        "8;Luc;Bernard;1962-07-08;luc.bernard@example.net;\n",
        encoding="utf-8",
    )
    maps = ["--map", "Prenom=first_name", "--map", "Nom=last_name", "--map", "Ref=contact_id"]
    maps += ["--map", "Naissance=birth_date", "--map", "Mail=email"]
    done = cli(
        tmp_path,
        "link",
        str(tmp_path / "a.csv"),
        str(tmp_path / "b.csv"),
        "--out",
        str(tmp_path / "l"),
        *maps,
        "--map",
        "Batiment=address_line3",
    )
    assert done.returncode == 0, done.stderr
    assert "no use for 'address_line3'" in done.stderr
    pairs = _read(tmp_path / "l" / "pairs.csv")
    assert ("1", "7") in {(p["id_a"], p["id_b"]) for p in pairs}
    refused = user_error(
        tmp_path,
        "link",
        str(tmp_path / "a.csv"),
        str(tmp_path / "b.csv"),
        "--out",
        str(tmp_path / "m"),
        *maps,
        "--map",
        "Batiment=batiment_line",
    )
    assert "'batiment_line' is not a column this command reads" in refused
    assert not (tmp_path / "m").exists()


def test_maps_are_sorted_into_read_id_and_unused() -> None:
    from listguard.normalise.rnvp import INPUT
    from listguard.processing.files import usable_maps
    from listguard.processing.linkage import READ

    options = ["A=address_line3", "B=First_Name", "C=nope", "D=contact_id", "E=", "F"]
    usable = usable_maps(options, READ, "contact_id")
    assert usable.options == ["B=First_Name", "C=nope", "E=", "F"]  # the bad ones refused later
    assert usable.id_column == "D"
    assert len(usable.notes) == 1 and "'address_line3'" in usable.notes[0]
    # rnvp reads address line 3; a profile names no row, so contact_id is of no use to it
    assert usable_maps(options[:1], INPUT, "contact_id").options == options[:1]
    unnamed = usable_maps(["D=contact_id"], READ, "")
    assert unnamed.options == [] and unnamed.id_column == "" and len(unnamed.notes) == 1


def test_the_registry_is_deduplicated_and_its_clusters_kept(
    any_engine: Engine, tmp_path: Path
) -> None:
    import json

    import polars as pl
    from sqlalchemy import text

    from listguard.imports import import_file
    from listguard.processing.linkage import dedupe_base
    from listguard.timeutil import now_ts

    engine = any_engine
    path, truth = _base(tmp_path, persons=600)
    base = pl.read_csv(path, separator=";", infer_schema=False).with_columns(
        pl.lit("2026-01-10").alias("collected_at")
    )
    base.write_csv(tmp_path / "contacts.csv", separator=";")
    import_file(engine, "contacts", tmp_path / "contacts.csv")
    started = now_ts()
    report = dedupe_base(engine, tmp_path / "dup")
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT contact_id, cluster_id, computed_at FROM contact_clusters")
        ).all()
        logged = conn.execute(
            text("SELECT subject, detail FROM audit_log WHERE action = 'clusters_computed'")
        ).one()
    stored: dict[str, str] = {str(r[0]): str(r[1]) for r in rows}
    assert {int(r[2]) for r in rows} == {rows[0][2]} and started <= rows[0][2] <= now_ts()
    assert report.in_clusters == len(stored) >= 2 * len(truth) * 0.9
    assert logged.subject is None and json.loads(logged.detail) == {
        "threshold": 0.9,
        "clusters": report.clusters,
        "contacts": report.in_clusters,
    }
    sizes: dict[str, int] = {}
    for cluster in stored.values():
        sizes[cluster] = sizes.get(cluster, 0) + 1
    assert min(sizes.values()) >= 2 and len(sizes) == report.clusters  # none of one contact
    together = len([a for a, b in truth if a in stored and stored.get(a) == stored.get(b)])
    assert together >= 0.9 * len(truth)
    # computed again, the clusters replace the previous ones
    dedupe_base(engine, tmp_path / "dup")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM contact_clusters")).scalar_one() == len(
            stored
        )


def test_two_persons_of_one_household_are_not_one_person(tmp_path: Path) -> None:
    """A spouse or a child: same surname, same address, same landline, another first
    name and email. The model alone joins them (the address outweighs the first name)."""
    from rapidfuzz.distance import JaroWinkler

    path, truth = _base(tmp_path, persons=800)
    rows = _read(path)
    names = ["Ophélie", "Baptiste", "Ghislaine", "Anatole", "Bérénice", "Kévin"]
    household = []
    for i, r in enumerate(r for r in rows if r["contact_id"].startswith("C")):
        if i >= 150:
            break
        other = next(
            n for n in names if JaroWinkler.similarity(n.upper(), r["first_name"].upper()) < 0.8
        )
        household.append(
            {
                **r,
                "contact_id": f"H{i}",
                "first_name": other,
                "email": f"h{i}@foyer.example",
                "birth_date": "",
            }
        )
    with (tmp_path / "all.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, HEADER, delimiter=";")
        writer.writeheader()
        writer.writerows(rows + household)
    link_files([tmp_path / "all.csv"], tmp_path / "out")
    pairs = _read(tmp_path / "out" / "pairs.csv")
    assert not [p for p in pairs if "H" in p["id_a"][0] + p["id_b"][0]]
    # and the duplicates are still found
    found = {tuple(sorted((p["id_a"], p["id_b"]))) for p in pairs}
    assert len(found & {tuple(sorted(p)) for p in truth}) >= 0.95 * len(truth)


def test_exact_duplicates_are_found_however_small_or_uniform_the_file(tmp_path: Path) -> None:
    """A file of a few rows, or of copies only, teaches the model nothing (every pair
    agrees, so agreeing weighs nothing): exact duplicates are pairs all the same."""
    header = "contact_id;first_name;last_name;email;phone;postal_code;address_line4\n"
    jean = "Jean;Dupont;jean@example.fr;0612345678;75002;1 rue A\n"
    copies = tmp_path / "copies.csv"
    copies.write_text(header + "".join(f"{i};{jean}" for i in range(30)), encoding="utf-8")
    report = link_files([copies], tmp_path / "c")
    assert (report.clusters, report.in_clusters) == (1, 30)
    pairs = _read(tmp_path / "c" / "pairs.csv")
    assert all(p["probability"] == "1.0" and "first_last" in p["agreed"] for p in pairs)
    two = tmp_path / "two.csv"
    two.write_text(
        header + "1;Marie;Durand;;0611111111;;\n2;MARIE;DURAND;;06 11 11 11 11;;\n"
        "3;Paul;Durand;;0611111111;;\n",  # the same number, another first name: not him
        encoding="utf-8",
    )
    report = link_files([two], tmp_path / "t")
    assert [(p["id_a"], p["id_b"]) for p in _read(tmp_path / "t" / "pairs.csv")] == [("1", "2")]
    # two files: every copy of one with every copy of the other, in one cluster
    others = tmp_path / "others.csv"
    others.write_text(header + "".join(f"{i};{jean}" for i in (100, 101, 102)), encoding="utf-8")
    ok(tmp_path, "link", str(copies), str(others), "--out", str(tmp_path / "l"))
    linked = _read(tmp_path / "l" / "pairs.csv")
    assert linked and all(int(p["id_a"]) < 30 and int(p["id_b"]) >= 100 for p in linked)
    clusters = _read(tmp_path / "l" / "clusters.csv")
    assert len(clusters) == 33 and len({c["cluster_id"] for c in clusters}) == 1
    ok(tmp_path, "link", str(two), str(others), "--out", str(tmp_path / "none"))
    assert _read(tmp_path / "none" / "pairs.csv") == []


def test_an_abbreviated_street_type_is_the_same_street(tmp_path: Path) -> None:
    streets = tmp_path / "streets.csv"
    streets.write_text(
        "contact_id;first_name;last_name;address_line4;postal_code\n"
        "1;Marie;Durand;12 av. Foch;75116\n2;Marie;Durand;12, avenue Foch;75116\n"
        "3;Marie;Durand;12 rue Foch;75116\n",  # another street of the same name
        encoding="utf-8",
    )
    link_files([streets], tmp_path / "s")
    pairs = _read(tmp_path / "s" / "pairs.csv")
    assert [(p["id_a"], p["id_b"], p["agreed"]) for p in pairs] == [
        ("1", "2", "first_last;number;street;postcode")
    ]


def test_a_file_with_no_row_or_one_gives_empty_pairs_not_an_error(tmp_path: Path) -> None:
    header = tmp_path / "header.csv"
    header.write_text("contact_id;first_name;last_name;email\n", encoding="utf-8")
    single = tmp_path / "single.csv"
    single.write_text(header.read_text() + "1;Marie;Durand;m@example.fr\n", encoding="utf-8")
    for files in ([header], [single], [header, single], [single, header]):
        out = tmp_path / "-".join(f.stem for f in files)
        report = link_files(files, out)
        assert report.pairs == 0 and _read(out / "pairs.csv") == []
        assert (
            len(_read(out / "clusters.csv"))
            == report.records
            == sum(f.read_text().count("\n") - 1 for f in files)
        )


def test_the_model_is_reported_beside_the_pairs_field_by_field(tmp_path: Path) -> None:
    """model.json and model.md give, for each compared field, m and u of each level
    of its comparison and the weight they make: why two rows matched."""
    import json

    path, _ = _base(tmp_path, persons=600)
    link_files([path], tmp_path / "out")
    model = json.loads((tmp_path / "out" / "model.json").read_text(encoding="utf-8"))
    assert model["threshold"] == 0.9 and 0 < model["prior"] < 1
    fields = {f["column"]: f for f in model["fields"]}
    assert {"first_last", "dob", "email", "tel", "number", "street", "postcode"} <= set(fields)
    for field in fields.values():
        missing = [lv for lv in field["levels"] if lv["missing"]]
        # a value missing on a side weighs nothing either way
        assert missing and all(lv["weight"] == 0.0 and lv["m"] is None for lv in missing)
        known = [lv for lv in field["levels"] if not lv["missing"]]
        assert all(0 <= lv["m"] <= 1 and 0 <= lv["u"] <= 1 for lv in known)
        # agreeing exactly is evidence of one person, the last level ("all other") against
        assert known[0]["weight"] > 0 > known[-1]["weight"], field
    table = (tmp_path / "out" / "model.md").read_text(encoding="utf-8")
    assert "| birth date | missing on a side |  |  | +0.00 |" in table
    assert "| email | Exact match on email |" in table


def test_a_missing_birth_date_or_house_number_does_not_block_a_pair(tmp_path: Path) -> None:
    """A value missing on one side weighs nothing: the other fields still find the pair
    (only the model's weights decide, and the blocking passes do not all need it)."""
    path, _ = _base(tmp_path, persons=600)
    rows = _read(path)
    originals = [r for r in rows if r["contact_id"].startswith("C")][:40]
    copies = [
        {
            **r,
            "contact_id": f"M{i}",
            # the birth date, the house number, the email and the mobile gone, the
            # last name mistyped: names, street and town are left to weigh
            "birth_date": "",
            "address_line4": r["address_line4"].lstrip("0123456789 "),
            "last_name": r["last_name"] + "e",
            "email": "",
            "mobile": "",
        }
        for i, r in enumerate(originals)
    ]
    with (tmp_path / "all.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, HEADER, delimiter=";")
        writer.writeheader()
        writer.writerows(rows + copies)
    link_files([tmp_path / "all.csv"], tmp_path / "out")
    found = {tuple(sorted((p["id_a"], p["id_b"]))) for p in _read(tmp_path / "out" / "pairs.csv")}
    wanted = {tuple(sorted((r["contact_id"], f"M{i}"))) for i, r in enumerate(originals)}
    assert len(found & wanted) >= 0.9 * len(wanted), sorted(wanted - found)[:3]
