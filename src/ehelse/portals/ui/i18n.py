"""Languages of the portals: Norwegian bokmål first, English second (STYLE.md), nynorsk
where a catalogue has it (a key missing in nynorsk falls back to bokmål, never to a raw key).

Catalogues are plain dicts `{"nb": {...}, "en": {...}}`: the shared words of the layout live
in ui/messages.py, each portal adds its own (citizen/messages.py). A test checks that every
key exists in both nb and en. The chosen language comes from `?lang=` and is remembered in
the `lang` cookie, which the login pages (oauth/i18n.py) read too.
"""

from __future__ import annotations

from typing import Any, Mapping

from starlette.requests import Request

LANGUAGES = ("nb", "nn", "en")
DEFAULT = "nb"
COOKIE = "lang"
NAMES = {"nb": "Norsk (bokmål)", "nn": "Norsk (nynorsk)", "en": "English"}


def language(request: Request) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get(COOKIE) or DEFAULT
    return chosen if chosen in LANGUAGES else DEFAULT


class Translator:
    """`t("key", name="Kari")`: the text in this language with `{name}` filled in."""

    def __init__(self, lang: str, texts: Mapping[str, str], fallback: Mapping[str, str]):
        self.lang = lang
        self.texts = texts
        self.fallback = fallback

    def __call__(self, key: str, **values: Any) -> str:
        text = self.texts.get(key)
        if text is None:
            text = self.fallback.get(key, key)
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in self.texts or key in self.fallback


class Catalogue:
    """The merged texts of several catalogues; later ones override earlier ones."""

    def __init__(self, *sources: Mapping[str, Mapping[str, str]]):
        self.texts: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
        for source in sources:
            for lang, texts in source.items():
                self.texts.setdefault(lang, {}).update(texts)
        self._translators = {lang: Translator(lang, self.texts[lang], self.texts[DEFAULT]) for lang in LANGUAGES}

    def translator(self, lang: str) -> Translator:
        return self._translators.get(lang, self._translators[DEFAULT])

    def complete(self) -> tuple[str, ...]:
        """The languages with every word of bokmål (offered in the language switch)."""
        return tuple(lang for lang in LANGUAGES if not self.missing(lang))

    def missing(self, lang: str) -> set[str]:
        """Keys that bokmål has and `lang` lacks (the test of the catalogues uses it)."""
        return set(self.texts[DEFAULT]) - set(self.texts.get(lang, {}))
