"""Escaping at the point of output: one filter per language a value lands in.

The spec loader refuses every value that could change what a generated file
means; these filters are the second wall behind it.  Each one writes a
value so that the target language reads it back as that same value and
nothing more, or, where the language has no escape for a character (a
newline in a BitBake assignment, `${` anywhere BitBake expands), raises
`UnsafeValue` instead of rendering a file that means something else.

An `UnsafeValue` is a bug, never a user error: validation let through a
value a template cannot write.  It surfaces as an internal error (exit 1)
and the fuzz test exists to find it.

The filters, as the templates use them:

    bb        a BitBake double-quoted value ("..."); `refs` names the
              variables it may reference (`${COMMON_LICENSE_DIR}`)
    bb_uri    one URL of a SRC_URI: a bb value without `;` (BitBake's
              parameter separator) or white space
    bb_word   a name that lands in a recipe or file name, an override or a
              path: letters, digits and `._+-` only
    sh        a POSIX shell word, single-quoted
    env       a value of an EnvironmentFile that a shell may also read:
              single-quoted, which systemd and sh read alike
    unit      a systemd unit setting's value (`%` doubled: no specifiers)
    yaml      a YAML scalar (JSON's double-quoted string where needed)
    kconfig   a Kconfig string literal ("...")
    py        a Python literal (repr)
    text      prose in a comment or a Markdown cell: one line, no `|`
"""

from __future__ import annotations

import json
import re
from typing import Iterable

# Control characters (C0, DEL, C1) and the Unicode line and paragraph
# separators: no generated file has a reason to hold any of them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_BB_REF = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
_WORD = re.compile(r"^[A-Za-z0-9._+-]+$")
_YAML_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+-]*$")
_YAML_SPECIAL = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


class UnsafeValue(ValueError):
    """A value reached a template that cannot write it faithfully."""


def _refuse(value: object, language: str, why: str) -> UnsafeValue:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return UnsafeValue(f"{shown} cannot be written as {language}: {why}")


def _one_line(value: object, language: str) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise _refuse(value, language, "not a string or an integer")
    text = str(value)
    if _CONTROL.search(text):
        raise _refuse(value, language, "it holds a line break or a control character")
    return text


def bb(value: object, refs: Iterable[str] = ()) -> str:
    """A BitBake double-quoted assignment value.

    BitBake has no escape for a quote, a backslash (a line continuation) or
    `${` (an expansion; `${@...}` runs Python), so those are refused; the
    variables named in `refs` may be referenced.
    """
    text = _one_line(value, "a BitBake value")
    allowed = set(refs)
    for ref in _BB_REF.finditer(text):
        if ref.group(1) not in allowed:
            raise _refuse(value, "a BitBake value", f"it expands ${{{ref.group(1)}}}")
    rest = _BB_REF.sub("", text)
    for char in ('"', "\\", "$", "`"):
        if char in rest:
            raise _refuse(value, "a BitBake value", f"it holds {char!r}")
    return text


def bb_uri(value: object) -> str:
    """One URL in a SRC_URI: a `;` would add fetcher parameters, a space another source."""
    text = bb(value)
    if ";" in text or " " in text or not text:
        raise _refuse(value, "a SRC_URI entry", "it holds ';' or white space, or is empty")
    return text


def bb_word(value: object) -> str:
    """A name used in recipe and file names, overrides and paths."""
    text = _one_line(value, "a BitBake name")
    if not _WORD.match(text) or text in (".", ".."):
        raise _refuse(value, "a BitBake name", "only letters, digits and . _ + - are allowed")
    return text


def sh(value: object) -> str:
    """A POSIX shell word: single quotes, each `'` written as `'\\''`."""
    text = _one_line(value, "a shell word")
    return "'" + text.replace("'", "'\\''") + "'"


def env(value: object) -> str:
    """An EnvironmentFile value that systemd and a shell read alike.

    Both take a single-quoted value literally; neither can put a `'`
    inside one the same way, so that is refused.
    """
    text = _one_line(value, "an EnvironmentFile value")
    if "'" in text:
        raise _refuse(value, "an EnvironmentFile value", "it holds a single quote")
    return f"'{text}'"


def unit(value: object) -> str:
    """A systemd unit setting's value: one line, `%` doubled so no specifier expands."""
    text = _one_line(value, "a systemd value")
    if "\\" in text:
        raise _refuse(value, "a systemd value", "it holds a backslash")
    return text.replace("%", "%%")


def keyfile(value: object) -> str:
    """A GLib key file value (rauc-hawkbit-updater's config): one line, no escape, no edge blanks."""
    text = _one_line(value, "a key file value")
    if "\\" in text or text != text.strip():
        raise _refuse(value, "a key file value", "it holds a backslash or leading/trailing blanks")
    return text


def yaml(value: object) -> str:
    """A YAML scalar: plain when YAML reads it back as the same string, else double-quoted."""
    text = _one_line(value, "a YAML scalar")
    if _YAML_PLAIN.match(text) and text.lower() not in _YAML_SPECIAL \
            and not re.match(r"^[0-9.+-]+$", text):
        return text
    return json.dumps(text, ensure_ascii=False)


def kconfig(value: object) -> str:
    """A Kconfig string literal."""
    text = _one_line(value, "a Kconfig string")
    if "$" in text:
        raise _refuse(value, "a Kconfig string", "Kconfig expands '$'")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def py(value: object) -> str:
    """A Python literal."""
    return repr(value)


def json_str(value: object) -> str:
    """A JSON string literal (then quoted again for the language around it, as `sh`)."""
    return json.dumps(_one_line(value, "a JSON string"), ensure_ascii=True)


def text(value: object) -> str:
    """Prose in a comment or a Markdown table cell: one line, and no cell separator."""
    out = _one_line(value, "a line of text")
    return out.replace("|", "\\|")


FILTERS = {"bb": bb, "bb_uri": bb_uri, "bb_word": bb_word, "sh": sh, "env": env, "unit": unit,
           "yaml": yaml, "kconfig": kconfig, "py": py, "text": text,
           "json_str": json_str, "keyfile": keyfile}
