"""Outgoing text messages (SMS) of a business: a templated message (a purpose such as
``activity.reminder`` and its parameters) sent by a :class:`TextMessenger`, from a job
enqueued after the commit that gives the reason for it (:mod:`core.sms.jobs`).

Huike has no SMS gateway of its own: a business's text messages go through its provider
plugin (``send_sms``); the core's default, :class:`NoTextMessenger`, sends nothing and says
so, and callers keep email as the channel that always works."""

from core.sms.messenger import NoTextMessenger, SentText, TextMessage, TextMessenger

__all__ = ["NoTextMessenger", "SentText", "TextMessage", "TextMessenger"]
