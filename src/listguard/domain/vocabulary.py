"""The words of the registry: channels, scopes, vias, events.

Each is a ``Literal`` type, so a value is checked where it is written, and the tuple
of its values is derived from the type, so a list and its type cannot drift apart.
A named set of channels has one meaning (``VOICE_CHANNELS`` are called,
``NUMBER_CHANNELS`` are reached through a phone number).
"""

from __future__ import annotations

from typing import Literal, get_args

Channel = Literal["postal", "phone", "automated_call", "sms", "email"]
CHANNELS: tuple[Channel, ...] = get_args(Channel)
# an event (opposition, consent...) may name one channel or every one
EventChannel = Literal["all", Channel]
EVENT_CHANNELS: tuple[EventChannel, ...] = (*CHANNELS, "all")
# the channels reached by a call, where the call rules apply (calendar, Bloctel)
VoiceChannel = Literal["phone", "automated_call"]
VOICE_CHANNELS: tuple[VoiceChannel, ...] = get_args(VoiceChannel)
# the channels reached through a phone number (a call or a text message)
NumberChannel = Literal["phone", "automated_call", "sms"]
NUMBER_CHANNELS: tuple[NumberChannel, ...] = get_args(NumberChannel)

# who an event concerns: the owner's own use, every partner, both, or one partner
# (``partner:<id>``, read by ``domain.scopes``)
ScopeKind = Literal["own", "partners", "all"]
SCOPE_KINDS: tuple[ScopeKind, ...] = get_args(ScopeKind)

# how an event reached the owner (or ``partner:<id>``: forwarded by that partner)
Via = Literal["web_form", "email_link", "sms_stop", "letter", "phone", "api"]
VIAS: tuple[Via, ...] = get_args(Via)

# what an events file or a form records about a person
EventKind = Literal["consent", "opposition", "informed_partner_list", "interaction", "erasure"]
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)
# the events forwarded to the partners holding the person (a rectification is recorded
# by the rights service, never imported)
PropagatedKind = Literal["opposition", "erasure", "rectification"]
PROPAGATED: tuple[PropagatedKind, ...] = get_args(PropagatedKind)

__all__ = [
    "CHANNELS",
    "EVENT_CHANNELS",
    "EVENT_KINDS",
    "NUMBER_CHANNELS",
    "PROPAGATED",
    "SCOPE_KINDS",
    "VIAS",
    "VOICE_CHANNELS",
    "Channel",
    "EventChannel",
    "EventKind",
    "NumberChannel",
    "PropagatedKind",
    "ScopeKind",
    "Via",
    "VoiceChannel",
]
