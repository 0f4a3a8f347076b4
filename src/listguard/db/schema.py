"""Tables of the registry.

Instants are integer Unix seconds (``listguard.timeutil``); choice states,
statuses and line types are short text codes; there are no booleans, so the
same SQL runs unchanged on SQLite and PostgreSQL. Nothing is overwritten
without a trace: every version of a contact or partner row is kept in its
``*_versions`` table, events are append-only, and a Bloctel screening keeps its
file hash.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from listguard.domain.vocabulary import CHANNELS as CHANNELS

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# AFNOR NF Z10-011 lines 2 to 5, then line 6 (postal code and city)
ADDRESS_LINES = ("address_line2", "address_line3", "address_line4", "address_line5")
ADDRESS_COLUMNS = (*ADDRESS_LINES, "postal_code", "city")
CHOICE_STATES = ("consent", "objection", "informed")

imports = Table(
    "imports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("rows_new", Integer, nullable=False, default=0),
    Column("rows_changed", Integer, nullable=False, default=0),
    Column("rows_unchanged", Integer, nullable=False, default=0),
    Column("rows_rejected", Integer, nullable=False, default=0),
)


def _contact_columns() -> list[Column[object]]:
    cols: list[Column[object]] = [
        Column("civility", String(8)),
        Column("civility_given", Text),
        Column("first_name", Text),
        Column("last_name", Text),
        Column("company", Text),
        Column("audience", String(3), nullable=False),
        Column("address_line2", Text),
        Column("address_line3", Text),
        Column("address_line4", Text),
        Column("address_line5", Text),
        Column("postal_code", String(16)),
        Column("city", Text),
        Column("country", String(2), nullable=False),
        Column("address_status", String(8), nullable=False),
        Column("address_key", Text),
        Column("recipient_key", Text),
        Column("phone", Text),
        Column("phone_e164", String(20)),
        Column("phone_type", String(16)),
        Column("mobile", Text),
        Column("mobile_e164", String(20)),
        Column("mobile_type", String(16)),
        Column("email", Text),
        Column("email_norm", Text),
        Column("email_status", String(8)),
        Column("birth_date", String(10)),
        Column("collected_at", BigInteger, nullable=False),
        Column("collection_source", Text),
        Column("notice_version", Text),
    ]
    for scope in ("partners", "own"):
        cols += [Column(f"{scope}_{ch}", String(10)) for ch in CHANNELS]
    cols += [
        Column("attributes", Text),
        Column("import_id", Integer, ForeignKey("imports.id"), nullable=False),
        Column("recorded_at", BigInteger, nullable=False),
        Column("version", Integer, nullable=False),
    ]
    return cols


CONTACT_FIELDS = tuple(c.name for c in _contact_columns())
# the coordinates contacts are looked up by (events, oppositions, rights, propagation)
COORDINATES = ("email_norm", "phone_e164", "mobile_e164")

# ``id`` is an internal key (fast integer joins in the rules); ``contact_id`` is the owner's.
contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("contact_id", Text, nullable=False),
    *_contact_columns(),
    # an index, not a constraint: a first load builds it once its rows are written
    Index("uq_contacts_contact_id", "contact_id", unique=True),
    # on SQLite, without the contacts that have no such coordinate (an index holds its
    # nulls): smaller, and built in about two thirds of the time; a query comparing the
    # column with anything implies the condition, so uses the index as before
    *(Index(f"ix_contacts_{c}", c, sqlite_where=text(f"{c} IS NOT NULL")) for c in COORDINATES),
    # the contacts recorded since the clusters were computed (asked before every rental)
    Index("ix_contacts_recorded_at", "recorded_at"),
)

contact_versions = Table(
    "contact_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("contact_id", Text, nullable=False),
    *_contact_columns(),
    UniqueConstraint("contact_id", "version", name="uq_contact_versions_contact_version"),
    # a coordinate delivered before the contact changed it is found through these
    Index("ix_contact_versions_email_norm", "email_norm"),
    Index("ix_contact_versions_phone_e164", "phone_e164"),
    Index("ix_contact_versions_mobile_e164", "mobile_e164"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("contact_id", Text),
    Column("email_norm", Text),
    Column("phone_e164", String(20)),
    Column("event", String(24), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("scope", String(80), nullable=False),
    Column("partner_id", Text),
    Column("at", BigInteger, nullable=False),
    Column("via", String(80)),
    Column("detail", Text),
    Column("event_key", Text, nullable=False, unique=True),
    Column("import_id", Integer, ForeignKey("imports.id")),
    Column("recorded_at", BigInteger, nullable=False),
    Index("ix_events_contact_id", "contact_id"),
    Index("ix_events_email_norm", "email_norm"),
    Index("ix_events_phone_e164", "phone_e164"),
)


def _partner_columns() -> list[Column[object]]:
    return [
        Column("name", Text, nullable=False),
        Column("legal_name", Text),
        Column("category", Text, nullable=False),
        Column("privacy_policy_url", Text),
        Column("sector", String(16), nullable=False),
        Column("listed_from", BigInteger),
        Column("listed_until", BigInteger),
        Column("notify_url", Text),
        Column("notify_email", Text),
        Column("import_id", Integer, ForeignKey("imports.id")),
        Column("recorded_at", BigInteger, nullable=False),
        Column("version", Integer, nullable=False),
    ]


partners = Table(
    "partners",
    metadata,
    Column("partner_id", Text, primary_key=True),
    *_partner_columns(),
)

partner_versions = Table(
    "partner_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner_id", Text, nullable=False),
    *_partner_columns(),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("list", Text, nullable=False),
    Column("partner_id", Text),
    Column("kind", String(8), nullable=False),  # email | phone | address
    Column("value", Text, nullable=False),  # normalised email, E.164 number or address key
    Column("added_at", BigInteger, nullable=False),
    Column("import_id", Integer, ForeignKey("imports.id")),
    UniqueConstraint("list", "kind", "value", name="uq_suppressions_entry"),
    Index("ix_suppressions_value", "kind", "value"),
)

bloctel_screenings = Table(
    "bloctel_screenings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("screened_at", BigInteger, nullable=False),
    Column("file_name", Text, nullable=False),
    Column("file_sha256", String(64), nullable=False),
    Column("imported_at", BigInteger, nullable=False),
    Column("numbers", Integer, nullable=False),
    Column("listed", Integer, nullable=False),
    UniqueConstraint("file_sha256", "screened_at", name="uq_bloctel_screenings_file"),
)

bloctel_results = Table(
    "bloctel_results",
    metadata,
    Column("screening_id", Integer, ForeignKey("bloctel_screenings.id"), primary_key=True),
    Column("phone_e164", String(20), primary_key=True),
    Column("listed", SmallInteger, nullable=False),
    Index("ix_bloctel_results_phone", "phone_e164"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner_id", Text, ForeignKey("partners.partner_id"), nullable=False),
    Column("order_text", Text, nullable=False),
    Column("order_sha256", String(64), nullable=False),
    Column("as_of", String(10), nullable=False),
    Column("channels", Text, nullable=False),
    Column("packs", Text, nullable=False),
    Column("partner_list_version", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("out_dir", Text, nullable=False),
    Column("contacts_delivered", Integer, nullable=False),
    Column("manifest_sha256", String(64)),
    # the ledger ids this delivery wrote (one transaction, so one unbroken range)
    Column("ledger_first_id", Integer),
    Column("ledger_last_id", Integer),
    # "rental" (an order: contacts.csv) or "enrichment" (a client file: enriched.csv)
    Column("kind", Text, nullable=False, server_default="rental"),
)

# which coordinate went to which partner under which delivery (one row per delivered
# coordinate; looked up by contact when an opposition must be forwarded)
ledger = Table(
    "ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), nullable=False),
    Column("contact_id", Text, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("coordinate", Text, nullable=False),
    Column("contact_ref", String(32), nullable=False),
    # looked up by contact only: a coordinate here always comes from the contact's own
    # record, current or superseded (contact_versions is indexed by email and number)
    Index("ix_ledger_contact_id", "contact_id"),
)

# the control addresses planted in each delivery, as they were written in the file, so
# that mail reaching a seed can be traced to the deliveries that carried it
delivery_seeds = Table(
    "delivery_seeds",
    metadata,
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), primary_key=True),
    Column("seed_id", Text, primary_key=True),
    Column("contact_ref", String(32), nullable=False),
    Column("planted", Text, nullable=False),  # JSON: the row's fields as delivered
)

MESSAGE_STATES = ("pending", "sent", "acknowledged", "failed")

# the transactional outbox: one message per opposition (or erasure) and partner that holds
# a covered coordinate, written in the transaction that records the opposition
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=False),
    Column("partner_id", Text, ForeignKey("partners.partner_id"), nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("next_attempt_at", BigInteger),
    Column("sent_at", BigInteger),
    Column("acknowledged_at", BigInteger),
    Column("transport", String(16)),
    Column("last_error", Text),
    # 0: queued when the event was recorded, for every delivery then held; a delivery's
    # id: queued by that (backdated) delivery, for its own contact references
    Column("delivery_id", Integer, nullable=False, server_default="0"),
    UniqueConstraint(
        "event_id", "partner_id", "delivery_id", name="uq_outbox_event_partner_delivery"
    ),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    Index("ix_outbox_partner", "partner_id", "id"),  # a partner's messages, in order
)

# what a message tells its partner: the delivered coordinates it covers, by the partner's
# own reference of the contact
outbox_items = Table(
    "outbox_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("message_id", Integer, ForeignKey("outbox.id"), nullable=False),
    Column("delivery_id", Integer, ForeignKey("deliveries.id"), nullable=False),
    Column("contact_ref", String(32), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("coordinate", Text, nullable=False),
    # a rectification: the corrected values the partner received on this channel (JSON)
    Column("corrected", Text),
    Index("ix_outbox_items_message", "message_id"),
)

FILE_IDENTIFIERS = ("clear", "hashed")

# what a partner chose for itself (through the API or the owner): the form of the
# identifiers in file drops (clear, or keyed hashes with its own secret)
partner_settings = Table(
    "partner_settings",
    metadata,
    Column("partner_id", Text, ForeignKey("partners.partner_id"), primary_key=True),
    Column("file_identifiers", String(8), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# the key each partner's webhooks are signed with (made on first use, shown to the owner)
partner_secrets = Table(
    "partner_secrets",
    metadata,
    Column("partner_id", Text, ForeignKey("partners.partner_id"), primary_key=True),
    Column("secret", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# append-only, hash-chained: each entry's hash covers its content and the previous hash
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("action", String(40), nullable=False),
    Column("subject", Text),
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# the chain's last hash, one row: updating it serialises writers of the log
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("last_id", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

# keys the registry makes for itself (e.g. the one erasure digests are keyed with)
registry_secrets = Table(
    "registry_secrets",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("secret", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# the persons who asked to be erased: a keyed digest of each identifier, nothing else, so
# that a later import of the same person is refused
erased = Table(
    "erased",
    metadata,
    Column("kind", String(12), primary_key=True),  # contact_id | email | phone
    Column("digest", String(64), primary_key=True),
    Column("erased_at", BigInteger, nullable=False),
)


ROLES = ("admin", "operator")  # accounts of the owner's team
KEY_ROLES = ("partner", "machine")  # API keys: a partner's, or the owner's systems'

# the owner's team: password hashed with argon2, never stored
accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", Text, nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("disabled_at", BigInteger),
)

# signed-in sessions: the cookie holds a random token, the registry only its SHA-256
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

# API keys ("lg_<prefix>_<secret>"): looked up by prefix, checked against the SHA-256 of
# the whole key (a random 256-bit key needs no slow hash); scoped and revocable
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("prefix", String(16), nullable=False, unique=True),
    Column("key_hash", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("partner_id", Text, ForeignKey("partners.partner_id")),
    Column("scopes", Text, nullable=False),  # space-separated
    Column("label", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger),
    Column("last_used_at", BigInteger),
)

# the partner side: the owners whose signed messages this registry receives, the key
# each signs with, and the suppression list their oppositions go to
inbound_sources = Table(
    "inbound_sources",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("secret", String(128), nullable=False),
    Column("list", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# every message received from a source, once (its idempotency key), and whether the
# source was told it was applied
inbound_messages = Table(
    "inbound_messages",
    metadata,
    Column("source", String(64), ForeignKey("inbound_sources.source"), primary_key=True),
    Column("message_key", String(64), primary_key=True),
    Column("type", String(16), nullable=False),
    Column("coordinates", Integer, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("ack_url", Text),
    Column("acked_at", BigInteger),
    Column("ack_error", Text),
    Column("body", Text),  # a rectification's corrected values, for the partner to apply
)

# inputs refused by the web application, counted per day, route and reason
refusals = Table(
    "refusals",
    metadata,
    Column("day", BigInteger, primary_key=True),
    Column("route", String(40), primary_key=True),
    Column("reason", String(40), primary_key=True),
    Column("count", Integer, nullable=False),
)

# the persons the registry holds more than once: each contact of a cluster of two or
# more (``listguard dedupe --base``); the rules treat a cluster as one person
contact_clusters = Table(
    "contact_clusters",
    metadata,
    Column("contact_id", Text, primary_key=True),
    Column("cluster_id", Text, nullable=False),
    Column("computed_at", BigInteger, nullable=False),
    Index("ix_contact_clusters_cluster_id", "cluster_id"),
)


# the evidence of a collection recorded through the API (``listguard.collection``): what
# the form showed (notice version and text hash, partner list version) and what the
# person chose, when, from where; one row per idempotency key
collection_proofs = Table(
    "collection_proofs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("idempotency_key", Text, nullable=False, unique=True),
    Column("body_sha256", String(64), nullable=False),
    Column("contact_id", Text, nullable=False, index=True),
    Column("outcome", Text, nullable=False),  # "created" or "events" (a contact already held)
    Column("collected_at", BigInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("collection_source", Text),
    Column("notice_version", Text, nullable=False),
    Column("notice_sha256", String(64)),
    Column("partner_list_version", Integer),
    Column("choices", Text, nullable=False),  # JSON {partners_email: consent, ...}
    Column("ip", Text),
    Column("user_agent", Text),
)

# one row: a token that changes whenever a contact is changed or deleted (SQLite triggers,
# migration 0013), so that a columnar copy of the contacts (``listguard.db.column_copy``)
# made under one token is known to hold them as they are while the token is the same
contacts_stamp = Table(
    "contacts_stamp",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("token", Text, nullable=False),
)

# the partner side's calls (``listguard.calls``): each number received in a delivery
# (the source, the delivery's name, until when it may be used) ...
call_numbers = Table(
    "call_numbers",
    metadata,
    Column("number", Text, primary_key=True),  # E.164
    Column("source", String(64), primary_key=True),
    Column("delivery", Text, primary_key=True),
    Column("received_at", BigInteger, nullable=False),
    Column("usable_until", BigInteger),  # the campaign's last second; None: no end given
)

# ... and each call or attempt made (at most 4 in 30 days per number, D223-9)
call_attempts = Table(
    "call_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("number", Text, nullable=False),  # E.164
    Column("at", BigInteger, nullable=False),
    Column("outcome", String(16), nullable=False),  # attempt | answered | refused
    Column("recorded_at", BigInteger, nullable=False),
    Column("via", String(16), nullable=False),  # file | api
    # one attempt per number and second: the same log imported again adds nothing
    UniqueConstraint("number", "at", name="uq_call_attempts_number_at"),
)

# the one-time codes sent by SMS for the proof of consent (``listguard.proof.access``):
# the person by keyed digest of their number, the code by keyed hash, never in clear;
# valid 10 minutes, 5 attempts, used once
proof_codes = Table(
    "proof_codes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person", String(64), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("used_at", BigInteger),
    Index("ix_proof_codes_person", "person"),
)

# the rights requests (``listguard.rights_requests``): the person by keyed digest, what
# answering them needs (address or number, corrections asked) and the answer encrypted
rights_requests = Table(
    "rights_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),  # access | rectification | erasure | ...
    Column("via", String(16), nullable=False),  # web_form | api | letter | phone ...
    Column("person", String(64), nullable=False),
    Column("sealed", Text, nullable=False),
    Column("channel", String(16)),  # an objection's channel
    Column("reference", String(200)),  # the owner's own reference (its CRM's)
    Column("confirm_key", String(64)),  # the confirmation link's, once (unique)
    Column("received_at", BigInteger, nullable=False),
    Column("due_on", String(10), nullable=False),  # ISO date: received + 1 month (+ 2 extended)
    Column("status", String(16), nullable=False),  # received | in_progress | answered | refused
    Column("status_at", BigInteger, nullable=False),
    Column("handled_by", String(320)),
    Column("reason", Text),  # a refusal's
    Column("outcome", Text),  # what was done (JSON, no personal data)
    Column("answer", Text),  # the document, encrypted, until its link expires
    Column("answer_name", String(100)),
    Column("answer_type", String(100)),
    Column("answer_until", BigInteger),
    Column("extended_at", BigInteger),  # the deadline extended by two months (art. 12(3))
    Column("extension_reason", Text),  # why, as told to the person
    Column("extension_told_at", BigInteger),  # the person told: due_on moved then
    UniqueConstraint("confirm_key", name="uq_rights_requests_confirm_key"),
    Index("ix_rights_requests_status_due", "status", "due_on"),
    Index("ix_rights_requests_person", "person"),
)
