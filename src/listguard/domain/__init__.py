"""The values listguard's business speaks in, and the rules that hold on every route.

``vocabulary`` names the channels, scopes, vias and events; ``scopes`` reads a scope or
a via as a person, a file or a partner gives it; ``events`` is an event's identity;
``coverage`` says which contacts and which deliveries an event covers; ``retention``
is the period deliveries are looked at; ``rows`` checks rows and reports every error of
each, ``contact_rows`` and ``partner_rows`` are the formats' rows checked and
normalised; ``erased`` recognises the persons erased. The imports, the forms, the API
and the commands are adapters over these.
"""
