"""Normalise account domains to the form Bombora identifies accounts by.

Bombora wants bare host names: lower-case, no scheme, user info, port, path, query,
fragment, leading ``www.`` or trailing dot, internationalised names in IDNA (punycode) form
(contract, section 4). :func:`normalize_domain` returns that form or raises
:class:`InvalidDomain` whose ``reason`` is a short code the operator counts rejections by:

=======================  ============================================================
``empty``                ``None``, blank, or nothing left once the URL parts are gone
``not_a_string``         a number, list, dict, ... instead of a string
``ip_address``           an IPv4 or IPv6 address, or a name whose last label is numeric
``email``                ``local@domain`` without a scheme
``single_label``         one label only (``localhost``, ``acme``)
``empty_label``          two dots in a row or a leading dot (``a..com``, ``.acme.com``)
``label_too_long``       a label over 63 characters
``name_too_long``        a name over 253 characters
``invalid_hyphen``       a label starting or ending with ``-``
``invalid_character``    anything but letters, digits, hyphens and dots (``_``, spaces, ``%``)
``invalid_idn``          an internationalised label IDNA cannot encode, or a bad ``xn--`` label
=======================  ============================================================

Errors are raised rather than returned because rejections are rare: the common case pays
nothing for them. IDNA is the standard library's IDNA 2003 codec, with unassigned code
points refused (the rule for stored names), so emoji are ``invalid_idn``.

Speed matters (a million records per run): an input already in normal form is recognised by
one precompiled regex and returned as is; everything else takes the slow path.
"""

from __future__ import annotations

import ipaddress
import re
import stringprep
from encodings import idna

MAX_LABEL_LENGTH = 63
MAX_NAME_LENGTH = 253

# A name already in normal form: LDH labels with no edge hyphen, at least two labels, a TLD
# starting with a letter, no leading "www." and no "xn--" label (those get validated by the
# slow path). The length limit is checked separately: it is cheaper than a lookahead.
_LABEL = r"(?!xn--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_match_normal_form = re.compile(rf"(?!www\.)(?:{_LABEL}\.)+(?!xn--)[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?").fullmatch

_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*://")
_VALID_ASCII_LABEL = re.compile(r"[a-z0-9-]+").fullmatch
# Full stops IDNA 2003 treats as label separators (ideographic, fullwidth, halfwidth).
_UNICODE_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


class InvalidDomain(ValueError):
    """The value is not a usable domain; ``reason`` says why (see the module docstring)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def normalize_domain(value: object) -> str:
    """Return ``value`` as a bare, lower-case, IDNA-encoded domain, or raise :class:`InvalidDomain`."""
    if type(value) is str and len(value) <= MAX_NAME_LENGTH and _match_normal_form(value) is not None:
        return value
    return _normalize_slowly(value)


def _normalize_slowly(value: object) -> str:
    if value is None:
        raise InvalidDomain("empty")
    if not isinstance(value, str):
        raise InvalidDomain("not_a_string")
    text = value.strip().lower()
    if len(text) <= MAX_NAME_LENGTH and _match_normal_form(text) is not None:
        return text  # only the case or surrounding blanks were off: the usual dirty input
    host = _extract_host(text)
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise InvalidDomain("empty")
    if not host.isascii():
        host = _to_ascii(host)
    labels = host.split(".")
    # Like the WHATWG URL parser: a host whose last label is a number is an IPv4 address
    # (192.168.0.1, and also 1.2.3 or 127.1), never a domain.
    if labels[-1].isdigit():
        raise InvalidDomain("ip_address")
    if labels[0] == "www" and len(labels) > 2:
        labels = labels[1:]
    for label in labels:
        _check_label(label)
    if len(labels) < 2:
        raise InvalidDomain("single_label")
    domain = ".".join(labels)
    if len(domain) > MAX_NAME_LENGTH:
        raise InvalidDomain("name_too_long")
    return domain


def _extract_host(text: str) -> str:
    """Strip scheme, user info, port, path, query and fragment from lower-cased ``text``."""
    scheme = _SCHEME.match(text)
    if scheme is not None:
        text, is_url = text[scheme.end() :], True
    elif text.startswith("//"):
        text, is_url = text[2:], True
    else:
        is_url = False
    authority_end = len(text)
    for delimiter in "/?#":
        position = text.find(delimiter)
        if position != -1 and position < authority_end:
            authority_end = position
    authority = text[:authority_end]
    if "@" in authority:
        # In a URL the part before "@" is user info; without a scheme it is an e-mail address.
        if not is_url:
            raise InvalidDomain("email")
        authority = authority.rpartition("@")[2]
    if authority.startswith("["):
        address, bracket, _port = authority[1:].partition("]")
        raise InvalidDomain("ip_address" if bracket and _is_ip_address(address) else "invalid_character")
    if authority.count(":") > 1:
        raise InvalidDomain("ip_address" if _is_ip_address(authority) else "invalid_character")
    host, _colon, port = authority.partition(":")
    if port and not port.isdigit():
        raise InvalidDomain("invalid_character")
    return host


def _is_ip_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _to_ascii(host: str) -> str:
    """IDNA-encode each label of a host that has non-ASCII characters."""
    labels = host.translate(_UNICODE_DOTS).split(".")
    encoded = []
    for label in labels:
        if label.isascii():
            encoded.append(label)
            continue
        if _has_unassigned_code_point(label):
            raise InvalidDomain("invalid_idn")
        try:
            encoded.append(idna.ToASCII(label).decode("ascii").lower())
        except UnicodeError:
            raise InvalidDomain("invalid_idn") from None
    return ".".join(encoded)


def _check_label(label: str) -> None:
    if not label:
        raise InvalidDomain("empty_label")
    if len(label) > MAX_LABEL_LENGTH:
        raise InvalidDomain("label_too_long")
    if not label.isascii() or _VALID_ASCII_LABEL(label) is None:
        raise InvalidDomain("invalid_character")
    if label[0] == "-" or label[-1] == "-":
        raise InvalidDomain("invalid_hyphen")
    if label.startswith("xn--"):
        # A punycode label must decode, and round-trip, to a valid internationalised label.
        try:
            decoded = idna.ToUnicode(label)
        except UnicodeError:
            raise InvalidDomain("invalid_idn") from None
        if _has_unassigned_code_point(decoded):
            raise InvalidDomain("invalid_idn")


def _has_unassigned_code_point(label: str) -> bool:
    """Whether ``label`` has a code point unassigned in Unicode 3.2 (emoji, for one).

    The codec allows them (its rules are those for lookups); names being stored must not.
    """
    return any(stringprep.in_table_a1(char) for char in label)
