"""Every code the pages show has its words in French and English: each kind's codes
come from where they are defined (the domain's types, the rules' reasons table, the
registry's message states), and the refusals' reasons from the code that names them,
so a new code without words fails here."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

from listguard import audit, rights_requests
from listguard.partners import Outcome
from listguard.rules.reasons import REASONS
from listguard.web import words as w

PACKAGE = Path(w.__file__).resolve().parents[1]


def test_every_code_has_words_in_both_languages() -> None:
    assert w.missing() == []
    for kind, codes in w.CODES.items():
        for code in codes:
            fr, en = w.words(code, kind, "fr"), w.words(code, kind, "en")
            assert fr and en and "_" not in fr + en, f"{kind}:{code} is shown as a code"


def test_a_code_without_words_is_reported_and_shown_as_it_is() -> None:
    assert w.missing({"reason": ("brand_new_reason",), "status": ("sent", "parked")}) == [
        "reason:brand_new_reason",
        "status:parked",
    ]
    assert w.words("parked", "status", "fr") == "parked"


def test_the_words_follow_the_language() -> None:
    assert w.words("retention_expired", "reason", "fr") == "Durée de conservation dépassée"
    assert w.words("retention_expired", "reason", "en") == "Retention period over"
    assert w.words("web_form", "via", "fr") == "formulaire web"
    assert w.words("pending", "status", "en") == "waiting to be sent"
    assert w.words(["email", "sms"], "channel", "fr") == "Emails, SMS"
    assert w.words("partner:P1", "via", "fr") == "transmise par le partenaire P1"
    assert w.words("partner:P1", "scope", "en") == "partner P1"
    assert w.words("404", "refusal", "fr") == "404 · page introuvable"


def test_the_legend_gives_every_reason_its_meaning_and_the_rules_source() -> None:
    for lang in ("fr", "en"):
        legend = w.legend(lang)
        assert [r.code for r in legend] == [r.code for r in REASONS]
        assert [r.source for r in legend] == [r.source for r in REASONS]
        assert all(r.meaning and r.label != r.code for r in legend)
    english = {r.code: r.meaning for r in w.legend("en")}
    assert english["over_limit"] == "Eligible, but the order's limit was reached."
    french = {r.code: r.meaning for r in w.legend("fr")}
    assert french["over_limit"] == "Éligible, mais la limite de la commande est atteinte."


def _refusal_codes() -> set[str]:
    """The reasons the code gives a refused request: ``….refused(request, "code")``,
    the sign-in page's ``refused(status, "code")``, the partner side's
    ``Refused(status, "code", ...)``, ``refusals.add(route, "code")`` and the edge's
    ``scope["state"]["refusal"] = "code"``."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and len(node.args) >= 2:
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                second = node.args[1]
                counted = name in ("refused", "Refused") or (
                    name == "add" and "refusals" in ast.unparse(node.func)
                )
                if counted and isinstance(second, ast.Constant):
                    found.add(str(second.value))
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                target = ast.unparse(node.targets[0])
                if target.endswith("['refusal']") or target.endswith(".refusal"):
                    found.add(str(node.value.value))
    return found


def test_every_refusal_reason_has_words() -> None:
    codes = _refusal_codes()
    expected = {"bad_login", "no_api_key", "bad_signature", "invalid_parameter", "nul_character"}
    assert expected | {"not_a_stop_word", "covers_no_contact"} <= codes
    assert w.missing({"refusal": sorted(codes)}) == []


def test_every_detail_of_a_back_office_error_has_french_words() -> None:
    """What the back office's handlers raise (``HTTPException(status, "detail")``, and
    the sign-in's and CSRF's checks) is read in French on the error page."""
    details = set()
    for path in [*(PACKAGE / "web" / "admin").glob("*.py"), PACKAGE / "web" / "deps.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "HTTPException":
                said = node.args[1] if len(node.args) > 1 else None
                if isinstance(said, ast.Constant) and "API key" not in str(said.value):
                    details.add(str(said.value))
    assert {"no such delivery", "this page is for the owner's admins"} <= details
    assert w.missing({"detail": sorted(details)}) == []


def test_every_action_of_the_audit_log_has_words() -> None:
    """The actions the code writes to the audit log: ``audit.append(conn, "action",
    ...)``, ``append_through``, the entries of ``append_many`` and a partner's save
    (``partner_<outcome>``)."""
    actions = {audit.REDACTION} | {f"partner_{o}" for o in get_args(Outcome)}
    actions |= {f"rights_request_{status}" for status in rights_requests.STATUSES}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            if ast.unparse(node.func.value) != "audit" or len(node.args) < 2:
                continue
            said = node.args[1]
            if node.func.attr in ("append", "append_through") and isinstance(said, ast.Constant):
                actions.add(str(said.value))
            elif node.func.attr == "append_many" and isinstance(said, ast.List):
                actions |= {
                    str(e.elts[0].value)
                    for e in said.elts
                    if isinstance(e, ast.Tuple) and isinstance(e.elts[0], ast.Constant)
                }
    assert {"signed_in", "opposition_recorded", "partner_new", "erasure"} <= actions
    assert w.missing({"audit": sorted(actions)}) == []


# what a back-office form can meet, by module: every function (None), or those named
SAID_ON_FORMS: dict[str, tuple[str, ...] | None] = {
    "rights_requests.py": None,
    "rights_answers.py": None,
    "rights_extension.py": None,
    "accounts.py": None,
    "partners.py": ("check_partner_row",),
    "oppositions.py": ("person_keys",),
    "renting/order.py": ("_bad", "_date", "parse_order", "with_offer"),
    "renting/order_hash.py": None,
    "rules/plan.py": ("partner_facts",),
    "rules/packs.py": ("applicable_packs",),
    "rights.py": ("rectify",),
    "renting/turn.py": ("rental_turn",),
    "renting/deliver.py": ("_seed_pool", "_refuse_if_erased"),
    "web/rights_requests.py": ("_to_person", "deliver_answer"),
}
# the errors a person is told of (``listguard.errors`` and the kinds modules add)
ERRORS = {"InputError", "ListguardError", "Busy", "ConflictError", "UnknownPerson"}


def test_every_error_a_back_office_form_can_meet_is_said_in_french_too() -> None:
    """Each error the back office's forms can meet carries its French (``fr``), which
    the French pages show (``ListguardError.said``)."""
    bare: list[str] = []
    for name, only in SAID_ON_FORMS.items():
        tree = ast.parse((PACKAGE / name).read_text(encoding="utf-8"))
        functions = [
            f
            for f in ast.walk(tree)
            if isinstance(f, ast.FunctionDef) and (only is None or f.name in only)
        ]
        assert only is None or {f.name for f in functions} == set(only), name
        for f in functions:
            for call in ast.walk(f):
                if (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Name)
                    and call.func.id in ERRORS
                    and not any(k.arg == "fr" for k in call.keywords)
                ):
                    bare.append(f"{name}:{call.lineno} ({f.name})")
    assert bare == []


def test_an_error_is_said_in_the_pages_language() -> None:
    from listguard.errors import InputError

    said = InputError("at most 500 characters", where="reason", fr="raison : 500 au plus")
    assert said.said("fr") == "raison : 500 au plus"
    assert said.said("en") == "reason: at most 500 characters" == str(said)
    assert InputError("no French").said("fr") == "no French"
