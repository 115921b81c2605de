"""The rule of every spec field, as types the spec and catalog models share.

A spec may come from a pull request or a customer, and its values land in
BitBake recipes, shell scripts, systemd units, kas YAML and Python.  Each
type below accepts only values that mean the same thing in every one of
those languages (no quote, newline, `${`, `;` or path separator where it
could change a file's meaning), says its rule in words when it refuses one
(`must be ...`), and documents the same rule in the JSON schema.  The
escape filters (`escape.py`) are the second wall behind these rules.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Callable

from pydantic import AfterValidator, Field, Strict

# Control characters and Unicode line separators: never in any field.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _rule(pattern: str, max_length: int, says: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def check(v: str) -> str:
        if len(v) > max_length:
            raise ValueError(f"must be at most {max_length} characters (is {len(v)}); {says}")
        if not compiled.fullmatch(v):
            raise ValueError(f"must be {says}")
        return v
    return check


def _typed(pattern: str, max_length: int, says: str, description: str):
    """A string field checked by `pattern`, with the rule in its schema."""
    return Annotated[str, AfterValidator(_rule(pattern, max_length, says)),
                     Field(description=f"{description} Rule: {says}.",
                           json_schema_extra={"pattern": pattern, "maxLength": max_length})]


NAME_PATTERN = r"^[a-z0-9][a-z0-9+.-]*$"
NAME_SAYS = "a name: lowercase letters, digits and '.', '+', '-', starting with a letter or digit"

Name = _typed(NAME_PATTERN, 64, NAME_SAYS, "A name (recipe names and paths are built from it).")

Project = _typed(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", 32,
                 "a host name: lowercase letters, digits and '-', not starting or ending with '-'",
                 "Project name: the distro's name and the device's host name.")

Version = _typed(r"^[A-Za-z0-9][A-Za-z0-9.+~]*$", 32,
                 "a version: letters, digits and '.', '+', '~' (no '-' or '_': BitBake splits "
                 "recipe file names on them)",
                 "Version of the model artefact (the model recipe's PV).")

FileName = _typed(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$", 128,
                  "one plain file name: letters, digits and '.', '_', '+', '-', starting with a "
                  "letter or digit (no '/', no '..' as a name)",
                  "File name of the model on the device.")

Format = _typed(r"^[a-z0-9]+$", 16, "a format name: lowercase letters and digits",
                "Model file format (gguf, ...).")

LicenceFlags = _typed(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*( [A-Za-z0-9_][A-Za-z0-9_.-]*)*$|^$", 256,
                      "licence flag words separated by single spaces (letters, digits, '_', '.', '-')",
                      "LICENSE_FLAGS of the model recipe: set it when the licence restricts use, so "
                      "a build stops until the user accepts it.")

QuantType = _typed(r"^[A-Z0-9][A-Z0-9_]*$", 16,
                  "a quantisation type as llama-quantize names it: capital letters, digits and '_' "
                  "(Q4_K_M, Q8_0, IQ4_XS, F16)",
                  "A model file's precision or quantisation type.")

Text = _typed(r"^[^\"\\$`\x00-\x1f\x7f-\x9f\u2028\u2029]+$", 200,
              "one line of text without '\"', '\\', '$' or '`' (BitBake cannot quote them)",
              "A one-line summary.")

Sha256Hex = _typed(r"^[0-9a-f]{64}$", 64, "a sha256: 64 lowercase hex digits",
                   "sha256 of the file, as SRC_URI[sha256sum] checks it.")

ServerAddress = _typed(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                       r"[A-Za-z0-9])?)*(:[0-9]{1,5})?$", 253,
                       "a host name or IPv4 address with an optional port (hawkbit.example.com:443): "
                       "letters, digits, '-' and '.', then ':' and digits",
                       "The update server as the device reaches it, over TLS.")

Tenant = _typed(r"^[A-Za-z0-9][A-Za-z0-9_-]*$", 64,
                "a tenant id: letters, digits, '_' and '-', starting with a letter or digit",
                "hawkBit tenant the devices belong to.")

# -- numbers: booleans and strings are not numbers -----------------------------
Port = Annotated[int, Strict(), Field(ge=1, le=65535)]
Count = Annotated[int, Strict(), Field(ge=1, le=1_000_000)]
Size = Annotated[int, Strict(), Field(ge=1, le=2**40,
                                     description="File size in bytes (at most 1 TiB).")]


# -- URLs ---------------------------------------------------------------------
# RFC 3986 characters minus those that mean something to BitBake or a
# shell inside a double-quoted value: quotes, '\', '$', '{', '}', '`', ';'
# (BitBake's URL parameters), white space.
_URL = re.compile(r"^(?P<scheme>https?)://(?P<host>[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
                  r"(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*)(:[0-9]{1,5})?"
                  r"(?P<path>/[A-Za-z0-9._~:/?#@!&+,=%-]*)?$")
URL_SAYS = ("an {schemes} URL with a host name, and no white space, quotes, ';', '$', '{{', '}}', "
            "'\\' or '`' (percent-encode them)")


def _url(schemes: tuple, need_path: bool) -> Callable[[str], str]:
    says = URL_SAYS.format(schemes=" or ".join(schemes))

    def check(v: str) -> str:
        if len(v) > 2048:
            raise ValueError(f"must be at most 2048 characters (is {len(v)})")
        m = _URL.fullmatch(v)
        if not m or m.group("scheme") not in schemes:
            raise ValueError(f"must be {says}")
        if need_path and len(m.group("path") or "") < 2:
            raise ValueError("must name a file: the URL has no path")
        return v
    return check


def url_problem(value: str, schemes: tuple = ("https",)) -> str:
    """The rule a URL given outside the spec (a command-line option) breaks, or ""."""
    try:
        _url(schemes, False)(value)
    except ValueError as err:
        return str(err)
    return ""


HttpsUrl = Annotated[str, AfterValidator(_url(("https",), True)),
                     Field(description="Where the model file is fetched: https, pinned to a revision. "
                                       f"Rule: {URL_SAYS.format(schemes='https')}.", max_length=2048)]
WebUrl = Annotated[str, AfterValidator(_url(("https", "http"), False)),
                   Field(description=f"A web page. Rule: {URL_SAYS.format(schemes='https or http')}.",
                         max_length=2048)]
OptionalWebUrl = Annotated[str, AfterValidator(lambda v: v and _url(("https", "http"), False)(v)),
                           Field(description="A web page, or empty.", max_length=2048)]


# -- licences -----------------------------------------------------------------
_LICENCE_TOKEN = re.compile(r" *(?:([()&|])|([A-Za-z0-9][A-Za-z0-9.+_-]*))")
LICENCE_SAYS = ("a licence expression as OE writes it: SPDX names joined by '&' and '|', "
                "with parentheses (e.g. 'Apache-2.0', 'MIT & (BSD-3-Clause | GPL-2.0-only)', 'CLOSED')")


def _licence(v: str) -> str:
    if len(v) > 256:
        raise ValueError(f"must be at most 256 characters (is {len(v)})")
    tokens, pos = [], 0
    while pos < len(v):
        m = _LICENCE_TOKEN.match(v, pos)
        if not m or m.end() == pos:
            raise ValueError(f"must be {LICENCE_SAYS}")
        tokens.append(m.group(1) or "NAME")
        pos = m.end()
        while pos < len(v) and v[pos] == " ":
            pos += 1
    # expr := term (op term)* ; term := NAME | ( expr )
    depth, want_term = 0, True
    for tok in tokens:
        if want_term and tok == "NAME":
            want_term = False
        elif want_term and tok == "(":
            depth += 1
        elif not want_term and tok == ")" and depth:
            depth -= 1
        elif not want_term and tok in "&|":
            want_term = True
        else:
            raise ValueError(f"must be {LICENCE_SAYS}")
    if want_term or depth:
        raise ValueError(f"must be {LICENCE_SAYS}")
    return v


Licence = Annotated[str, AfterValidator(_licence),
                    Field(description=f"The model's licence. Rule: {LICENCE_SAYS}.", max_length=256)]

_CHKSUM = re.compile(r"^file://(\$\{COMMON_LICENSE_DIR\}/[A-Za-z0-9][A-Za-z0-9.+_-]*"
                     r"|[A-Za-z0-9][A-Za-z0-9._+-]*(/[A-Za-z0-9][A-Za-z0-9._+-]*)*)"
                     r";md5=[0-9a-f]{32}(;beginline=[0-9]+)?(;endline=[0-9]+)?$")
CHKSUM_SAYS = ("'file://${COMMON_LICENSE_DIR}/<licence>;md5=<32 hex>' or 'file://<relative path>;"
               "md5=<32 hex>' (optionally ';beginline=N;endline=N'), several separated by spaces, "
               "or empty for a CLOSED licence")


def _chksum(v: str) -> str:
    if len(v) > 1024:
        raise ValueError(f"must be at most 1024 characters (is {len(v)})")
    for entry in v.split(" ") if v else []:
        if not _CHKSUM.fullmatch(entry) or "/../" in f"/{entry.split(';')[0][7:]}/":
            raise ValueError(f"must be {CHKSUM_SAYS}")
    return v


LicFilesChksum = Annotated[str, AfterValidator(_chksum),
                           Field(description=f"LIC_FILES_CHKSUM of the model recipe. Rule: {CHKSUM_SAYS}.",
                                 max_length=1024)]


# -- network ------------------------------------------------------------------
HOST_SAYS = "an IP address (127.0.0.1, ::1, 192.168.1.10, 0.0.0.0 for every address) or 'localhost'"


def _host(v: str) -> str:
    if v == "localhost":
        return v
    try:
        if "%" in v:
            raise ValueError
        ipaddress.ip_address(v)
    except ValueError:
        raise ValueError(f"must be {HOST_SAYS}; host names are not resolved") from None
    return v


def is_loopback(host: str) -> bool:
    return host == "localhost" or ipaddress.ip_address(host).is_loopback


Host = Annotated[str, AfterValidator(_host),
                 Field(description="Address the API listens on. Loopback (the default) keeps it on the "
                                   "device; any other address needs `auth: api-key` and `allow`. "
                                   f"Rule: {HOST_SAYS}.", max_length=45)]

NETWORK_SAYS = "an IP network (192.168.1.0/24, 10.0.0.7, fd00::/8) or 'any'"


def _network(v: str) -> str:
    if v == "any":
        return v
    try:
        if "%" in v or len(v) > 49:
            raise ValueError
        ipaddress.ip_network(v, strict=True)
    except ValueError:
        raise ValueError(f"must be {NETWORK_SAYS} with no host bits set") from None
    return v


Network = Annotated[str, AfterValidator(_network),
                    Field(description=f"Clients allowed to reach the API. Rule: {NETWORK_SAYS}.",
                          max_length=49)]


def single_line(v: str) -> bool:
    """True when `v` holds no line break or control character."""
    return not _CONTROL.search(v)
