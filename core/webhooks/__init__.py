"""Outgoing webhooks: signed, retried, logged and replayable deliveries of events to HTTP
endpoints configured by a tenant or owned by an installed app. See docs/plugins/webhooks.md.

* :mod:`core.webhooks.service`: endpoints, enqueueing deliveries, the log, replays.
* :mod:`core.webhooks.signing`: the ``Huike-Signature`` scheme (standard library only).
* :mod:`core.webhooks.delivery`, :mod:`core.webhooks.sender`: attempts, claimed and logged,
  several of one tenant at once.
* :mod:`core.webhooks.jobs`: the delivery job, the sweeper of due retries, the purge.
"""
