"""The collection kit: recording what a person chose on an owner's form, with its proof,
and the form fragments that ask it the way the rules require.

``record_collection`` is what ``POST /api/v1/collections`` calls. A new person
becomes a contact exactly as an import row would (the same checks and
normalisation, its choices at collection in ``partners_*`` / ``own_*``); a person
the registry already holds (same ``contact_id``) keeps their record, and their new
choices are recorded as events (a consent, an opposition, the partner list seen),
which the rules read the same way. Either way the evidence is kept in
``collection_proofs``: the notice version and the SHA-256 of its text, the partner
list version shown, when, the IP address and user agent, and the choices; one row
per idempotency key, so a form posted twice is recorded once.

``form_fragment`` writes the HTML an owner pastes into a form: for each channel, the
information text and distinct, unticked boxes for the owner's own prospecting and
for its partners, worded as in the CNIL guidance (``shared/seed``): a box to object
where informing is enough (opt-out), a box to accept where consent is required
(opt-in), with the link to the partner list.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, bindparam, text

from listguard import audit
from listguard.config import Settings
from listguard.db import schema
from listguard.errors import InputError
from listguard.identifiers import subjects
from listguard.renting.partner_list import partner_list_version
from listguard.rules.packs import OPT_IN, applicable_packs
from listguard.storage.engine import writing
from listguard.timeutil import now_ts, to_iso

CHOICES = ("consent", "objection", "informed")
CHANNEL_WORDS = {  # (what is transferred, the person's own words for it, by what means)
    "postal": ("votre adresse postale", "mon adresse postale soit utilisée", "par courrier postal"),
    "phone": ("votre numéro de téléphone", "mon numéro de téléphone soit utilisé", "par téléphone"),
    "automated_call": (
        "votre numéro de téléphone",
        "mon numéro de téléphone soit utilisé",
        "par automate d'appel",
    ),
    "sms": ("votre numéro de mobile", "mon numéro de mobile soit utilisé", "par SMS"),
    "email": ("votre adresse email", "mon adresse email soit utilisée", "par email"),
}


class ConflictError(InputError):
    """The idempotency key was used before for a different collection."""


@dataclass(frozen=True)
class Collection:
    idempotency_key: str
    contact: Mapping[str, str]  # contacts-format fields of the person
    choices: Mapping[str, str]  # partners_email: consent, own_postal: objection...
    notice_version: str
    collected_at: int | None = None  # default: when received
    notice_sha256: str | None = None
    partner_list_version: int | None = None
    collection_source: str | None = None
    ip: str | None = None
    user_agent: str | None = None

    def body_sha256(self) -> str:
        body = {k: v for k, v in self.__dict__.items() if k != "collected_at"}
        body["contact"], body["choices"] = dict(self.contact), dict(self.choices)
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass
class Collected:
    contact_id: str
    outcome: str  # "created", "events" (a contact already held) or "replayed"
    proof_id: int
    events: list[int] = field(default_factory=list)


def _check(c: Collection) -> None:
    unknown = sorted(
        set(c.choices) - {f"{s}_{ch}" for s in ("partners", "own") for ch in CHANNEL_WORDS}
    )
    if unknown:
        raise InputError(f"unknown choice(s) {', '.join(unknown)}", where="choices")
    for key, value in c.choices.items():
        if value not in CHOICES:
            raise InputError(
                f"{value!r} is not a choice: expected one of {', '.join(CHOICES)}", where=key
            )
    for key in ("collected_at", *c.choices):
        if key in c.contact:
            raise InputError(f"{key} is not a field of the person", where="contact")
    if not c.contact.get("contact_id", "").strip():
        raise InputError("the person needs the owner's contact_id", where="contact")


def record_collection(engine: Engine, c: Collection) -> Collected:
    """Record a collection and its proof in one transaction (see the module's doc)."""
    done = record_collections(engine, [c])[0]
    if isinstance(done, InputError):
        raise done
    return done


def _events_of(c: Collection) -> list[tuple[str, str, str]]:
    """(event, channel, scope) of the choices of a person already held."""
    out = []
    for key, value in sorted(c.choices.items()):
        scope, channel = key.split("_", 1)
        event = {"consent": "consent", "objection": "opposition"}.get(value)
        if event is None:  # informed: the partner list was shown
            if scope != "partners":
                continue
            event = "informed_partner_list"
        out.append((event, channel, scope))
    return out


def _again(done: Collected, same_body: bool) -> Collected | ConflictError:
    """A collection posted again under a key already recorded: a retry when its body
    is the same, else a conflict."""
    if same_body:
        return Collected(done.contact_id, "replayed", done.proof_id)
    return ConflictError(
        "this idempotency key was used for another collection", where="idempotency_key"
    )


def record_collections(engine: Engine, items: Sequence[Collection]) -> list[Collected | InputError]:
    """Record several collections in one transaction (a group commit: the columnar
    normalisation and the commit are paid once); each gets its outcome, or the
    ``InputError`` that refused it alone. A failure of the registry itself fails them
    all, and records none."""
    from listguard.imports.contacts import KNOWN, normalise_rows
    from listguard.oppositions import record_event

    received = now_ts()
    results: list[Collected | InputError | None] = [None] * len(items)
    digests = [c.body_sha256() for c in items]
    at = [c.collected_at if c.collected_at is not None else received for c in items]
    for i, c in enumerate(items):
        try:
            _check(c)
            if at[i] > received + 300:
                raise InputError(f"{to_iso(at[i])} is in the future", where="collected_at")
            unknown = sorted(set(c.contact) - set(KNOWN))
            if unknown:
                raise InputError(f"unknown field(s) {', '.join(unknown)}", where="contact")
        except InputError as exc:
            results[i] = exc
    with writing(engine) as conn:
        todo = [i for i, r in enumerate(results) if r is None]
        keys = sorted({items[i].idempotency_key for i in todo})
        known = {
            str(r.idempotency_key): r
            for r in conn.execute(
                text(
                    "SELECT id, idempotency_key, contact_id, body_sha256 FROM collection_proofs "
                    "WHERE idempotency_key IN :k"
                ).bindparams(bindparam("k", expanding=True)),
                {"k": keys or [""]},
            )
        }
        first_of: dict[str, int] = {}
        repeats: dict[int, int] = {}  # a key posted twice in this batch: its first post
        for i in todo:
            c = items[i]
            row = known.get(c.idempotency_key)
            if row is not None:
                results[i] = _again(
                    Collected(str(row.contact_id), "created", int(row.id)),
                    row.body_sha256 == digests[i],
                )
            elif c.idempotency_key in first_of:
                repeats[i] = first_of[c.idempotency_key]
                continue
            else:
                first_of[c.idempotency_key] = i
            if results[i] is None and c.partner_list_version is not None:
                in_force, _start = partner_list_version(conn, at[i])
                if not 1 <= c.partner_list_version <= in_force:
                    results[i] = InputError(
                        f"partner list version {c.partner_list_version} was not published at "
                        f"{to_iso(at[i])} (version {in_force} was in force)",
                        where="partner_list_version",
                    )
        todo = [i for i in todo if results[i] is None and i not in repeats]
        ids = sorted({items[i].contact["contact_id"].strip() for i in todo})
        held = {
            str(r[0])
            for r in conn.execute(
                text("SELECT contact_id FROM contacts WHERE contact_id IN :c").bindparams(
                    bindparam("c", expanding=True)
                ),
                {"c": ids or [""]},
            )
        }
        new: list[int] = []
        for i in todo:  # a person posted twice in this batch is created once
            cid = items[i].contact["contact_id"].strip()
            if cid not in held:
                new.append(i)
                held.add(cid)
        raws = []
        for i in new:
            c = items[i]
            raw = {k: str(v) for k, v in c.contact.items()}
            raw.update(c.choices)
            raw["collected_at"] = to_iso(at[i])
            raw["notice_version"] = c.notice_version
            if c.collection_source:
                raw["collection_source"] = c.collection_source
            raws.append(raw)
        rows: dict[int, dict[str, Any]] = {}
        for i, norm in zip(new, normalise_rows(raws) if raws else [], strict=True):
            if isinstance(norm, InputError):
                results[i] = norm
            else:
                rows[i] = norm
        if rows:
            import_id = conn.execute(
                text(
                    "INSERT INTO imports (kind, file_name, file_sha256, started_at, finished_at, "
                    "rows_read, rows_new, rows_changed, rows_unchanged, rows_rejected) "
                    "VALUES ('collection', :f, :h, :t, :t, :n, :n, 0, 0, 0) RETURNING id"
                ),
                {
                    "f": f"collection {items[min(rows)].idempotency_key}"
                    + (f" and {len(rows) - 1} more" if len(rows) > 1 else ""),
                    "h": hashlib.sha256("".join(digests[i] for i in rows).encode()).hexdigest(),
                    "t": received,
                    "n": len(rows),
                },
            ).scalar_one()
            conn.execute(
                schema.contacts.insert(),
                [
                    {**norm, "import_id": import_id, "recorded_at": received, "version": 1}
                    for norm in rows.values()
                ],
            )
        proofs: list[dict[str, Any]] = []
        outcomes: dict[int, str] = {}
        for i in todo:
            if results[i] is not None:
                continue
            c = items[i]
            contact_id = c.contact["contact_id"].strip()
            outcomes[i] = "created" if i in rows else "events"
            if outcomes[i] == "events":
                for event, channel, scope in _events_of(c):
                    record_event(
                        conn,
                        event,
                        channel=channel,
                        scope=scope,
                        via="web_form",
                        keys=(contact_id, None, None),
                        at=at[i],
                    )
            proofs.append(
                {
                    "idempotency_key": c.idempotency_key,
                    "body_sha256": digests[i],
                    "contact_id": contact_id,
                    "outcome": outcomes[i],
                    "collected_at": at[i],
                    "received_at": received,
                    "collection_source": c.collection_source,
                    "notice_version": c.notice_version,
                    "notice_sha256": c.notice_sha256,
                    "partner_list_version": c.partner_list_version,
                    "choices": json.dumps(dict(c.choices), sort_keys=True),
                    "ip": c.ip,
                    "user_agent": c.user_agent,
                }
            )
        if proofs:  # written together, their ids returned in the order of ``proofs``
            p = schema.collection_proofs
            proof_ids = {
                str(r.idempotency_key): int(r.id)
                for r in conn.execute(
                    p.insert().returning(p.c.id, p.c.idempotency_key, sort_by_parameter_order=True),
                    proofs,
                )
            }
            entries = []
            subject = subjects(conn)  # the audit log names the person by keyed digest
            for i, outcome in outcomes.items():
                c = items[i]
                contact_id = c.contact["contact_id"].strip()
                proof_id = proof_ids[c.idempotency_key]
                detail = {"proof": proof_id, "outcome": outcome, "notice_version": c.notice_version}
                entries.append(("collection", subject(contact_id), detail, received))
                results[i] = Collected(contact_id, outcome, proof_id)
            audit.append_many(conn, entries)
        for i, first in repeats.items():  # as a retry of the first, once it is recorded
            done = results[first]
            results[i] = (
                _again(done, digests[i] == digests[first]) if isinstance(done, Collected) else done
            )
    return [r if r is not None else InputError("not recorded") for r in results]


# -- the form fragment ---------------------------------------------------------------


def _box(name: str, value: str, label: str) -> str:
    ident = f"lg-{name.replace('_', '-')}"
    return (
        f'<p class="lg-choice"><input type="checkbox" id="{ident}" name="{name}" '
        f'value="{value}">\n  <label for="{ident}">{html.escape(label)}</label></p>'
    )


def _needs_consent(settings: Settings, as_of: dt.date, audience: str) -> Callable[[str], bool]:
    """Whether a channel is opt-in for ``audience`` under the rule packs in force on
    ``as_of`` (a form asks on the day it is shown)."""
    rules = applicable_packs(as_of, as_of, as_of, settings.rules, "commercial")
    return lambda channel: rules.regime(channel, audience) == OPT_IN


def form_fragment(
    settings: Settings,
    channels: Sequence[str],
    *,
    as_of: dt.date,
    audience: str = "b2c",
    partner_list_version: int | None = None,
    notice_version: str = "",
) -> tuple[str, str]:
    """(the HTML fragment, the SHA-256 of its information text) for ``channels``, under
    the rule pack in force on ``as_of``. Every box is unticked; each channel has a box
    for the owner and a distinct one for its partners."""
    unknown = [ch for ch in channels if ch not in CHANNEL_WORDS]
    if unknown or not channels:
        raise InputError(
            f"channels must be among {', '.join(CHANNEL_WORDS)}", where=", ".join(unknown)
        )
    owner = settings.owner.name
    partners_url = settings.web.link("/partenaires")
    consent = _needs_consent(settings, as_of, audience)
    optout = [ch for ch in channels if not consent(ch)]
    optin = [ch for ch in channels if consent(ch)]
    parts: list[str] = []
    texts: list[str] = []
    if optout:
        what = " et/ou ".join(dict.fromkeys(CHANNEL_WORDS[ch][0] for ch in optout))
        how = " et/ou ".join(CHANNEL_WORDS[ch][2] for ch in optout)
        info = (
            f"{owner} est susceptible d'utiliser {what} pour vous adresser ses offres {how}, "
            f"et de {'la' if len(optout) == 1 else 'les'} transmettre à ses partenaires "
            f"commerciaux (catégories et liste des partenaires : {partners_url}). "
            "Si vous ne le souhaitez pas, cochez la case correspondante ci-dessous :"
        )
        texts.append(info)
        parts.append(f'<p class="lg-info">{html.escape(info)}</p>')
        for ch in optout:
            parts.append(
                _box(
                    f"own_{ch}",
                    "objection",
                    f"Je m'oppose à recevoir des offres de {owner} {CHANNEL_WORDS[ch][1]}.",
                )
            )
            parts.append(
                _box(
                    f"partners_{ch}",
                    "objection",
                    f"Je m'oppose à ce que {CHANNEL_WORDS[ch][1]} pour recevoir des offres "
                    f"des partenaires de {owner} {CHANNEL_WORDS[ch][2]}.",
                )
            )
    if optin:
        how = " et/ou ".join(CHANNEL_WORDS[ch][2] for ch in optin)
        info = (
            f"Vos données sont susceptibles d'être transmises aux partenaires commerciaux de "
            f"{owner} à des fins de prospection commerciale {how}. Pour le permettre, vous "
            "devez cocher la case correspondante ci-dessous. Liste des partenaires de "
            f"{owner}, régulièrement mise à jour : {partners_url}"
        )
        texts.append(info)
        parts.append(f'<p class="lg-info">{html.escape(info)}</p>')
        for ch in optin:
            parts.append(
                _box(
                    f"own_{ch}",
                    "consent",
                    f"J'accepte de recevoir des offres de {owner} {CHANNEL_WORDS[ch][1]}.",
                )
            )
            parts.append(
                _box(
                    f"partners_{ch}",
                    "consent",
                    f"J'accepte de recevoir {CHANNEL_WORDS[ch][2]} de la publicité de la part "
                    f"des partenaires de {owner}.",
                )
            )
    rights = (
        "Vous pouvez à tout moment retirer votre accord ou vous opposer à ces utilisations : "
        f"{settings.web.link('/opposition')}. En savoir plus sur vos droits : "
        f"{settings.web.link('/droits')}"
    )
    texts.append(rights)
    parts.append(f'<p class="lg-info">{html.escape(rights)}</p>')
    notice_sha256 = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()
    hidden = {
        "lg_notice_version": notice_version,
        "lg_notice_sha256": notice_sha256,
        "lg_partner_list_version": ""
        if partner_list_version is None
        else str(partner_list_version),
        "lg_channels": " ".join(channels),
    }
    parts += [
        f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in hidden.items()
    ]
    body = "\n".join(parts)
    return (
        f'<fieldset class="lg-collection">\n<legend>Vos choix</legend>\n{body}\n</fieldset>\n',
        notice_sha256,
    )


def choices_from_form(
    form: Mapping[str, Any],
    channels: Sequence[str],
    settings: Settings,
    *,
    as_of: dt.date,
    audience: str = "b2c",
) -> dict[str, str]:
    """The choices a posted fragment means: an opt-out box left unticked is
    ``informed``, an opt-in box left unticked is no consent (nothing recorded)."""
    consent = _needs_consent(settings, as_of, audience)
    out: dict[str, str] = {}
    for ch in channels:
        for scope in ("own", "partners"):
            name = f"{scope}_{ch}"
            ticked = bool(form.get(name))
            if consent(ch):
                if ticked:
                    out[name] = "consent"
            else:
                out[name] = "objection" if ticked else "informed"
    return out


__all__ = [
    "Collected",
    "Collection",
    "ConflictError",
    "choices_from_form",
    "form_fragment",
    "record_collection",
    "record_collections",
]
