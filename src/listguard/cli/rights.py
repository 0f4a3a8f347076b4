"""``listguard rights *``: the person's rights of access, erasure and rectification
(GDPR art. 15 to 19)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from listguard.cli.app import Context, as_date, one_person
from listguard.errors import InputError

rights_app = typer.Typer(help="The rights of the person (GDPR).")


@rights_app.command("access")
def rights_access(
    ctx: typer.Context,
    contact: Annotated[str | None, typer.Option("--contact", help="Contact id.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="Email address.")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="Phone number.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text (French) or json.")] = "text",
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
) -> None:
    """Everything held about a person: data, versions, choices, deliveries (art. 15)."""
    import json

    from listguard.rights import access_report, access_text

    c: Context = ctx.obj
    one_person(contact, email, phone)
    if fmt not in ("text", "json"):
        raise InputError(f"unknown format {fmt!r}: expected text or json")
    report = access_report(
        c.engine(), contact_id=contact, email=email, phone=phone, rules=c.settings().rules
    )
    body = (
        json.dumps(report, ensure_ascii=False, indent=2) + "\n"
        if fmt == "json"
        else access_text(report, c.settings().owner.name)
    )
    if out is None:
        print(body, end="")
    else:
        out.write_text(body, encoding="utf-8")
        print(f"access report written to {out}")


@rights_app.command("erase")
def rights_erase(
    ctx: typer.Context,
    contact: Annotated[str | None, typer.Option("--contact", help="Contact id.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="Email address.")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="Phone number.")] = None,
    via: Annotated[str, typer.Option(help="How the request was received.")] = "api",
) -> None:
    """Erase a person: tell the partners, delete their data, refuse them on import (art. 17)."""
    from listguard.domain.retention import Retention
    from listguard.erasure import folder_lines
    from listguard.rights import erase

    c: Context = ctx.obj
    one_person(contact, email, phone)
    done = erase(
        c.engine(),
        contact_id=contact,
        email=email,
        phone=phone,
        via=via,
        retention=Retention.of(c.settings()),
    )
    print(
        f"erased: {done.contacts} contact record(s) deleted; {done.messages} message(s) queued "
        "for the partners that received them"
    )
    print("\n".join(folder_lines(done.folders)))


@rights_app.command("rectify")
def rights_rectify(
    ctx: typer.Context,
    contact: Annotated[str, typer.Option("--contact", help="Contact id.")],
    values: Annotated[
        list[str],
        typer.Argument(
            metavar="FIELD=VALUE...", help="Corrected values, e.g. last_name=Dupont email=..."
        ),
    ],
    via: Annotated[str, typer.Option(help="How the request was received.")] = "letter",
) -> None:
    """Correct a person's data and tell the partners that received it (art. 16 and 19)."""
    from listguard.domain.retention import Retention
    from listguard.rights import rectify

    c: Context = ctx.obj
    changes: dict[str, str] = {}
    for value in values:
        field, sep, new = value.partition("=")
        if not sep or not field.strip():
            raise InputError(f"{value!r}: expected FIELD=VALUE")
        changes[field.strip()] = new
    done = rectify(
        c.engine(),
        contact,
        changes,
        via=via,
        retention=Retention.of(c.settings()),
    )
    if not done.changed:
        print("nothing changed: the registry already holds these values")
        return
    print(
        f"rectified: {', '.join(done.changed)}; {done.messages} message(s) queued for the "
        "partners that received them"
    )


@rights_app.command("proof")
def rights_proof(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option("--out", metavar="FILE.pdf", help="The PDF to write; the JSON beside.")
    ],
    contact: Annotated[str | None, typer.Option("--contact", help="Contact id.")] = None,
    email: Annotated[str | None, typer.Option("--email", help="Email address.")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="Phone number.")] = None,
) -> None:
    """The proof of every consent and objection the person gave, as PDF and JSON (R223-2)."""
    from listguard.proof.document import proof_pdf
    from listguard.proof.facts import gather, proof_json

    c: Context = ctx.obj
    one_person(contact, email, phone)
    if out.suffix.lower() != ".pdf":
        raise InputError("the proof is a PDF: --out must name a .pdf file", where=str(out))
    if not out.parent.is_dir():
        raise InputError("no such folder", where=str(out.parent))
    proof = gather(c.engine(), c.settings(), contact_id=contact, email=email, phone=phone)
    text = proof_json(proof)
    beside = out.with_suffix(".json")
    _write_whole(beside, text.encode("utf-8"))
    _write_whole(out, proof_pdf(proof, text))
    print(f"consent proof written to {out} and {beside}")


def _write_whole(path: Path, body: bytes) -> None:
    """``body`` to ``path`` through a temporary name, so no half-written proof is left."""
    import os

    part = path.with_name(path.name + ".part")
    try:
        part.write_bytes(body)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


consents_app = typer.Typer(help="Consents held, and those about to lapse.")


@consents_app.command("expiring")
def consents_expiring(
    ctx: typer.Context,
    within: Annotated[int, typer.Option(help="Days ahead to look.")] = 30,
    as_of: Annotated[str | None, typer.Option(help="From this day (default: today).")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write them as CSV to this file.")
    ] = None,
) -> None:
    """Consents (phone) reaching their maximum age within the days given: ask again first."""
    from listguard.proof.expiring import expiring_consents
    from listguard.timeutil import today

    c: Context = ctx.obj
    day = as_date(as_of, "--as-of") if as_of else today()
    rows = expiring_consents(c.engine(), c.settings().rules, day, within)
    header = ("contact_id", "channel", "consent_at", "valid_until", "phone", "mobile", "email")
    cells = [
        (
            r.contact_id,
            r.channel,
            r.consent_at,
            r.valid_until.isoformat(),
            r.phone,
            r.mobile,
            r.email,
        )
        for r in rows
    ]
    if out is not None:
        from listguard.io.csvout import CsvWriter

        writer = CsvWriter(out, header, c.settings().output.csv_delimiter)
        writer.write_rows(cells)
        writer.close()
        print(f"{len(rows)} consent(s) lapse by {day.isoformat()} + {within} days: {out}")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(*header, title=f"Consents lapsing within {within} days of {day.isoformat()}")
    for row in cells:
        table.add_row(*(v or "" for v in row))
    Console().print(table)
    print(f"{len(rows)} consent(s)")
