"""The editor's languages: Babel message catalogues (`<lang>/LC_MESSAGES/messages.po`), 简体中文 first.

Message ids are the English texts; the Chinese catalogue translates them and the English one may leave
them as they are. Catalogues are read from the `.po` files once, so there is no compiled file to forget.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES: dict[str, str] = {"zh": "简体中文", "en": "English"}
DEFAULT_LANGUAGE = "zh"
LANGUAGE_COOKIE = "qunflow_lang"
# The catalogue folder of each language (Babel's locale names).
_LOCALES = {"zh": "zh_Hans", "en": "en"}
_HERE = Path(__file__).parent


def catalogue_path(language: str) -> Path:
    return _HERE / _LOCALES[language] / "LC_MESSAGES" / "messages.po"


@cache
def catalogue(language: str) -> dict[str, str]:
    """Message id → translation for one language (only the entries that have a translation)."""
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    with catalogue_path(language).open("rb") as file:
        entries = read_po(file, locale=_LOCALES[language])
    return {m.id: m.string for m in entries if m.id and isinstance(m.id, str) and m.string}


def choose_language(cookie: str | None) -> str:
    """The cookie's language if it is one we have; otherwise 简体中文, whatever the browser says.

    Operators of Chinese communities share machines with English system settings, so the browser's
    Accept-Language is not taken as a choice; the switch on every page is.
    """
    return cookie if cookie in LANGUAGES else DEFAULT_LANGUAGE


def translator(language: str) -> Callable[[str], str]:
    """`_(text)` for templates: the translation, or the English text itself when there is none."""
    messages = catalogue(language)

    def gettext(text: str, **values: object) -> str:
        translated = messages.get(text, text)
        return translated.format(**values) if values else translated

    return gettext
