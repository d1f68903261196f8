"""Mail templates: ``templates/<locale>/<name>.subject.txt``, ``<name>.txt`` and, optionally,
``<name>.html`` (which extends ``templates/layout.html``). A message is rendered in the
recipient's language, falling back to English."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from core.mail.backends import Message

__all__ = ["SUPPORTED_LOCALES", "normalize_locale", "render_message"]

SUPPORTED_LOCALES = ("zh-CN", "en")
FALLBACK_LOCALE = "en"


def normalize_locale(locale: str | None) -> str:
    """``zh``, ``zh_CN``, ``zh-Hans-CN`` → ``zh-CN``; any other language → ``en``."""
    tag = (locale or "").replace("_", "-").lower()
    if tag == "zh" or tag.startswith("zh-"):
        return "zh-CN"
    return FALLBACK_LOCALE


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("core.mail", "templates"),
        # HTML templates escape every value; plain-text parts and subjects must not.
        autoescape=jinja2.select_autoescape(["html"], default_for_string=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_message(name: str, locale: str | None, *, to: str, **context: Any) -> Message:
    """Render template ``name`` in ``locale`` for ``to``. A missing variable is an error,
    never an empty gap in a mail someone receives."""
    language = normalize_locale(locale)
    env = _environment()
    subject = env.get_template(f"{language}/{name}.subject.txt").render(context)
    body = env.get_template(f"{language}/{name}.txt").render(context)
    try:
        html_template = env.get_template(f"{language}/{name}.html")
    except jinja2.TemplateNotFound:
        html = None
    else:
        html = html_template.render(context, language=language)
    return Message(to=to, subject=" ".join(subject.split()), body=body, html=html, language=language)
