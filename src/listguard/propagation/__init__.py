"""Forwarding oppositions, erasures and rectifications to the partners that hold the
person's coordinates (``docs/propagation.md``).

- ``outbox``: the messages queued in the transaction that records the events;
- ``messages``: the messages as partners receive them (JSON, with their ack link);
- ``endpoints``: where and how each partner receives them, and its signing secret;
- ``signing``: the webhook signature, and the partner side's check of it;
- ``transports``: the ways to reach a partner (webhook, email digest, file drop),
  behind one interface (``transports.base``), and which serves whom (``routing``);
- ``worker``: sends what is due, retries with backoff, parks what keeps failing;
  ``journal``: its record of what it sent, written as it goes;
- ``acks``: the partners' acknowledgements, by signed link or through the API;
- ``status``: where the messages stand, per partner.
"""
