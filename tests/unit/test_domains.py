"""normalize_domain: the bare, lower-case, IDNA form Bombora identifies accounts by."""

from __future__ import annotations

import pytest

from airflow_provider_bombora.domains import InvalidDomain, normalize_domain


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("acme.com", "acme.com"),
        ("shop.acme.co.uk", "shop.acme.co.uk"),
        ("123.acme.com", "123.acme.com"),
        ("my-company.io", "my-company.io"),
        ("Acme.COM", "acme.com"),
        ("  acme.com\t\n", "acme.com"),
        ("acme.com.", "acme.com"),
        ("www.acme.com", "acme.com"),
        ("WWW.Acme.com", "acme.com"),
        ("www.www.acme.com", "www.acme.com"),
        ("www.com", "www.com"),  # the registrable name itself: nothing to drop
        ("wwwacme.com", "wwwacme.com"),
        ("www2.acme.com", "www2.acme.com"),
        ("https://acme.com", "acme.com"),
        ("http://acme.com/", "acme.com"),
        ("https://www.acme.com/about/team", "acme.com"),
        ("ftp://files.acme.com", "files.acme.com"),
        ("//acme.com/path", "acme.com"),
        ("acme.com/path/page.html", "acme.com"),
        ("acme.com:8080", "acme.com"),
        ("acme.com?utm_source=x", "acme.com"),
        ("acme.com#contact", "acme.com"),
        ("https://acme.com?q=1#f", "acme.com"),
        ("http://WWW.Acme.COM:8080/path?q#f", "acme.com"),
        ("https://user@acme.com/", "acme.com"),
        ("https://user:secret@www.acme.com:443/x", "acme.com"),
        ("Bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.Example", "xn--bcher-kva.example"),
        ("https://www.Bücher.example/shop", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("bücher。example", "xn--bcher-kva.example"),
        ("ａｃｍｅ.com", "acme.com"),
        ("a" * 63 + ".com", "a" * 63 + ".com"),
        (("a" * 62 + ".") * 4 + "c", ("a" * 62 + ".") * 4 + "c"),
    ],
)
def test_normalises(value, expected):
    assert normalize_domain(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "empty"),
        ("", "empty"),
        ("   ", "empty"),
        (".", "empty"),
        ("https://", "empty"),
        ("https:///path", "empty"),
        (123, "not_a_string"),
        (1.5, "not_a_string"),
        (["acme.com"], "not_a_string"),
        ({"domain": "acme.com"}, "not_a_string"),
        (b"acme.com", "not_a_string"),
        ("192.168.0.1", "ip_address"),
        ("192.168.0.1:8080", "ip_address"),
        ("http://10.0.0.1/admin", "ip_address"),
        ("1.2.3", "ip_address"),
        ("acme.123", "ip_address"),
        ("::1", "ip_address"),
        ("2001:db8::1", "ip_address"),
        ("[::1]", "ip_address"),
        ("[2001:db8::1]:8080", "ip_address"),
        ("http://[2001:db8::1]:8080/path", "ip_address"),
        ("[acme.com]", "invalid_character"),
        ("sales@acme.com", "email"),
        ("Sales.Team@Acme.com", "email"),
        ("mailto:sales@acme.com", "email"),
        ("localhost", "single_label"),
        ("acme", "single_label"),
        ("www.", "single_label"),
        ("a..com", "empty_label"),
        (".acme.com", "empty_label"),
        ("acme.com..", "empty_label"),
        ("a" * 64 + ".com", "label_too_long"),
        (("a" * 62 + ".") * 4 + "com", "name_too_long"),
        ("-acme.com", "invalid_hyphen"),
        ("acme-.com", "invalid_hyphen"),
        ("acme.-com", "invalid_hyphen"),
        ("my_company.com", "invalid_character"),
        ("acme .com", "invalid_character"),
        ("acme corp.com", "invalid_character"),
        ("acme%2ecom.com", "invalid_character"),
        ("acme.com:http", "invalid_character"),
        ("acme!.com", "invalid_character"),
        ("😀.ws", "invalid_idn"),
        ("shop😀.acme.com", "invalid_idn"),
        ("xn--e28h.ws", "invalid_idn"),
        ("xn--zzzz.com", "invalid_idn"),
        ("xn--a-.com", "invalid_hyphen"),
        ("xn--acme.com", "invalid_idn"),
    ],
)
def test_rejects_with_reason(value, reason):
    with pytest.raises(InvalidDomain) as excinfo:
        normalize_domain(value)
    assert excinfo.value.reason == reason


@pytest.mark.parametrize("value", ["acme.com", "Acme.com", "https://www.acme.com/", "bücher.example"])
def test_normal_form_is_a_fixed_point(value):
    once = normalize_domain(value)
    assert normalize_domain(once) == once


def test_result_is_a_plain_str_for_str_subclasses():
    class Tagged(str):
        pass

    result = normalize_domain(Tagged("Acme.com"))
    assert type(result) is str
    assert result == "acme.com"


def test_invalid_domain_is_a_value_error_carrying_its_reason():
    with pytest.raises(ValueError, match="single_label"):
        normalize_domain("localhost")
