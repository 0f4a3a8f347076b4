"""The state of the registry's clusters (``dedupe --base``), read without the linkage
machinery: renting and the back office ask it on every order."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from listguard.errors import Notice


@dataclass
class BaseClusters:
    """The registry's persons held several times, as ``dedupe --base`` last found them."""

    computed_at: int | None  # None: never computed
    clusters: int  # of two contacts or more
    contacts: int  # in them
    newer: int  # contacts imported or changed since: not compared yet


def base_clusters(engine: Engine) -> BaseClusters:
    from sqlalchemy import text

    with engine.connect() as conn:
        computed = conn.execute(
            text("SELECT max(at) FROM audit_log WHERE action = 'clusters_computed'")
        ).scalar()
        if computed is None:
            return BaseClusters(None, 0, 0, 0)
        clusters, contacts = conn.execute(
            text("SELECT count(DISTINCT cluster_id), count(*) FROM contact_clusters")
        ).one()
        newer = conn.execute(
            text("SELECT count(*) FROM contacts WHERE recorded_at >= :t"), {"t": computed}
        ).scalar_one()
    return BaseClusters(int(computed), int(clusters), int(contacts), int(newer))


def stale_clusters(engine: Engine) -> Notice | None:
    """A warning when contacts were imported or changed after the registry's clusters
    were last computed (``dedupe --base``): until it runs again, the rules do not know
    them as the same person as records already held. None when the clusters are up to
    date, or were never computed."""
    from listguard.timeutil import to_day

    held = base_clusters(engine)
    computed, newer = held.computed_at, held.newer
    if computed is None or not newer:
        return None
    day = to_day(computed).isoformat()
    return Notice(
        f"{newer:,} contact(s) were imported or changed after the persons held several "
        f"times were last found (dedupe --base, {day}): an objection on another record "
        "of the same person does not reach them yet. Run `listguard dedupe --base --out "
        "DIR` first.",
        f"{newer} contact(s) importé(s) ou modifié(s) depuis la dernière recherche des "
        f"personnes détenues plusieurs fois (dedupe --base, {day}) : une opposition "
        "portée sur un autre enregistrement de la même personne ne les atteint pas encore. "
        "Lancez d'abord `listguard dedupe --base --out DOSSIER`.",
    )


__all__ = ["BaseClusters", "base_clusters", "stale_clusters"]
