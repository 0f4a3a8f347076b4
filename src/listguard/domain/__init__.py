"""The values listguard's business speaks in, and the rules that hold on every route.

``retention`` is the period deliveries are looked at. The imports, the forms, the API
and the commands are adapters over these.
"""
