"""The partner service: one partner saved (the back office's form) in one transaction
with its audit entry, checked as the partners import checks a line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from listguard import audit
from listguard.audit import verify
from listguard.errors import InputError
from listguard.imports import import_file
from listguard.partners import save_partner
from tests.scenario import partner, write_csv


def _state(engine: Engine, partner_id: str) -> tuple[Any, int, list[str]]:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT name, version FROM partners WHERE partner_id = :p"), {"p": partner_id}
        ).first()
        versions = conn.execute(
            text("SELECT count(*) FROM partner_versions WHERE partner_id = :p"), {"p": partner_id}
        ).scalar_one()
        actions = (
            conn.execute(
                text("SELECT action FROM audit_log WHERE subject = :p ORDER BY id"),
                {"p": partner_id},
            )
            .scalars()
            .all()
        )
    return (None if row is None else tuple(row)), int(versions), list(actions)


def test_a_partner_is_created_changed_and_left_unchanged_each_with_its_trace(
    any_engine: Engine,
) -> None:
    row = partner("P7", name="Caves Nouvelles")
    assert save_partner(any_engine, row, by="admin@example.com") == "new"
    assert _state(any_engine, "P7") == (("Caves Nouvelles", 1), 0, ["partner_new"])
    assert save_partner(any_engine, row, by="admin@example.com") == "unchanged"
    assert _state(any_engine, "P7") == (("Caves Nouvelles", 1), 0, ["partner_new"])
    changed = {**row, "name": "Caves Anciennes"}
    assert save_partner(any_engine, changed, by="admin@example.com") == "changed"
    assert _state(any_engine, "P7") == (
        ("Caves Anciennes", 2),
        1,
        ["partner_new", "partner_changed"],
    )
    with any_engine.connect() as conn:
        saves = conn.execute(
            text("SELECT rows_new, rows_changed, rows_unchanged FROM imports ORDER BY id")
        ).all()
        by = conn.execute(
            text("SELECT detail FROM audit_log WHERE action = 'partner_changed'")
        ).scalar_one()
    assert [tuple(s) for s in saves] == [(1, 0, 0), (0, 0, 1), (0, 1, 0)]
    assert "admin@example.com" in by
    assert verify(any_engine).ok


def test_a_partner_saved_and_the_same_imported_from_a_file_are_the_same_version(
    engine: Engine, tmp_path: Path
) -> None:
    row = partner("P7", notify_email="dpo@caves.example.com")
    save_partner(engine, row, by="admin@example.com")
    report = import_file(engine, "partners", write_csv(tmp_path / "p.csv", [row]))
    assert (report.rows_new, report.rows_changed, report.rows_unchanged) == (0, 0, 1)


def test_a_bad_partner_is_refused_with_every_error_and_nothing_is_written(
    engine: Engine,
) -> None:
    bad = partner("../up", name=" ", sector="casino", listed_from="2026-13-01")
    with pytest.raises(InputError) as refused:
        save_partner(engine, bad, by="admin@example.com")
    told = str(refused.value)
    for column in ("partner_id", "name", "sector", "listed_from"):
        assert f"{column}: " in told
    # the back office's French form says each check in French
    assert refused.value.fr == (
        "partner_id : un identifiant de partenaire a de 1 à 64 lettres, chiffres, '_', '.' ou "
        "'-', commence par une lettre ou un chiffre, sans '..' ; name : le nom est "
        "obligatoire ; sector : le secteur doit être l'un de : commercial, press, "
        "public_service, polling, non_profit ; listed_from : la date d'entrée dans la "
        "liste n'est pas une vraie date"
    )
    with pytest.raises(InputError, match="unknown field"):
        save_partner(engine, {**partner("P8"), "colour": "red"}, by="admin@example.com")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM imports")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM partners")).scalar_one() == 0


def test_a_partner_whose_audit_entry_fails_is_not_saved(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> int:
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(audit, "append", broken)
    with pytest.raises(RuntimeError):
        save_partner(engine, partner("P9"), by="admin@example.com")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM partners")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM imports")).scalar_one() == 0


def test_every_check_of_a_partner_row_is_said_in_french() -> None:
    """Each message of ``domain.partner_rows``'s checks has its French in the partner
    service (a message changed there would otherwise fall back to English unseen)."""
    import ast
    import inspect

    from listguard import partners
    from listguard.domain import partner_rows

    tree = ast.parse(inspect.getsource(partner_rows))
    messages = [
        eval(compile(ast.Expression(call.args[2]), "partner_rows", "eval"), vars(partner_rows))
        for call in ast.walk(tree)
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id == "Check"
    ]
    assert len(messages) == 10
    assert [m for m in messages if m not in partners._FRENCH] == []


def test_every_reason_an_address_is_refused_is_said_in_french(engine: Engine) -> None:
    import ast
    import inspect

    from listguard import netguard, partners

    tree = ast.parse(inspect.getsource(netguard))
    reasons = [
        call.args[0].value
        for call in ast.walk(tree)
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id == "_Bad"
        and isinstance(call.args[0], ast.Constant)
    ]
    assert len(reasons) >= 12
    assert [r for r in reasons if r not in partners._FRENCH_URL] == []
    inside = {**partner("P9"), "notify_url": "https://10.0.0.1/hook"}
    with pytest.raises(InputError) as refused:
        save_partner(engine, inside, by="admin@example.com")
    assert refused.value.fr == "notify_url : l'hôte n'est pas une adresse publique"
