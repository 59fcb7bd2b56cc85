"""Display names that cannot deceive (resource, information-system and department names).

The rule, applied by the services that create or rename those objects:

1. NFKC normalisation: full-width Latin letters and digits (``ＡＢＣ１２``), compatibility ideographs and Kangxi
   radicals (``⼈`` U+2F08) fold to their ordinary characters, so two names that look the same are the same
   string. Full-width punctuation (``（）：，``), which Chinese names use as a matter of course, is kept as typed;
2. surrounding whitespace is stripped and inner runs of whitespace collapse to one space;
3. refused: control characters (Unicode category Cc) and invisible format characters (Cf: zero-width space /
   joiners U+200B–U+200D, U+2060, U+FEFF, the soft hyphen, and the bidirectional controls U+200E/U+200F,
   U+202A–U+202E, U+2066–U+2069 that reorder what is displayed — "Trojan Source");
4. refused: Latin letters mixed with Cyrillic or Greek letters in one name (``Pаyroll`` with a Cyrillic ``а``),
   the classic homoglyph spoof. Han characters with Latin letters and digits (``12345热线``, ``GIS平台``) are fine.
"""

from __future__ import annotations

import unicodedata

from govshare.core.errors import ValidationFailed

_SPOOF_SCRIPTS = ("CYRILLIC", "GREEK")


def _script(ch: str) -> str:
    if not ch.isalpha():
        return ""
    name = unicodedata.name(ch, "")
    if name.startswith("LATIN"):
        return "LATIN"
    for script in _SPOOF_SCRIPTS:
        if name.startswith(script):
            return script
    return ""


def _fullwidth_punctuation(ch: str) -> bool:
    return 0xFF01 <= ord(ch) <= 0xFF5E and not ch.isalnum()


def _nfkc(value: str) -> str:
    out: list[str] = []
    run: list[str] = []
    for ch in value:
        if _fullwidth_punctuation(ch):
            out.append(unicodedata.normalize("NFKC", "".join(run)))
            out.append(ch)
            run = []
        else:
            run.append(ch)
    out.append(unicodedata.normalize("NFKC", "".join(run)))
    return "".join(out)


def clean_name(value: str, *, field: str = "name") -> str:
    """``value`` normalised (NFKC, whitespace), or :class:`ValidationFailed` naming ``field`` and the reason."""
    text = " ".join(_nfkc(value or "").split())
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf"):
            raise ValidationFailed(
                f"名称含不可见或控制字符 U+{ord(ch):04X}（如零宽字符、双向文字控制符），请删除后重试 "
                f"(the name contains the invisible or control character U+{ord(ch):04X})",
                field=field, details={"character": f"U+{ord(ch):04X}", "reason": "invisible_character"},
            )
    scripts = {s for s in map(_script, text) if s}
    if "LATIN" in scripts and scripts & set(_SPOOF_SCRIPTS):
        odd = next(ch for ch in text if _script(ch) in _SPOOF_SCRIPTS)
        raise ValidationFailed(
            f"名称混用拉丁字母与西里尔/希腊字母（如 “{odd}” U+{ord(odd):04X}），易被仿冒，请统一字母 "
            f"(the name mixes Latin with Cyrillic or Greek letters: {odd!r} U+{ord(odd):04X})",
            field=field, details={"character": f"U+{ord(odd):04X}", "reason": "mixed_script"},
        )
    return text
