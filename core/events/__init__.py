"""Domain events and the transactional outbox.

A service records what happened with :func:`core.events.service.record_event` in its own
transaction; the relay (:mod:`core.jobs.relay`) hands committed rows to the job broker.
"""
