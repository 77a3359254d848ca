"""Canonical JSON (sync_protocol.canonical): fixed vectors and property tests.

Signatures and content hashes are computed over these bytes, so the same value
must always give the same bytes, and anything that two JSON readers could
disagree on (floats, huge integers, lone surrogates, duplicate keys) is refused.
"""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_protocol.canonical import MAX_SAFE_INTEGER, canonical_json, parse_canonical, sha256_hex
from sync_protocol.errors import CanonicalJSONError

# (value, exact canonical bytes) — the vectors a second implementation must reproduce.
VECTORS = [
    ({}, b"{}"),
    ([], b"[]"),
    (None, b"null"),
    (True, b"true"),
    (False, b"false"),
    (0, b"0"),
    (-(2**53 - 1), b"-9007199254740991"),
    (2**53 - 1, b"9007199254740991"),
    ({"b": 1, "a": 2}, b'{"a":2,"b":1}'),
    ({"a": [1, {"d": None, "c": True}]}, b'{"a":[1,{"c":true,"d":null}]}'),
    # Upper case sorts before lower case, ASCII before Vietnamese letters.
    ({"đ": 1, "a": 2, "Z": 3, "ă": 4, "é": 5}, '{"Z":3,"a":2,"é":5,"ă":4,"đ":1}'.encode()),
    # RFC 8785 sorts by UTF-16 code units: U+1F600 (D83D DE00) sorts before U+FB01,
    # although its code point is larger.
    ({"\ufb01": 1, "\U0001f600": 2}, '{"😀":2,"ﬁ":1}'.encode()),
    # Non-ASCII stays raw UTF-8; only '"', '\\' and control characters are escaped.
    ("Hồ sơ một cửa", '"Hồ sơ một cửa"'.encode()),
    ('quote " backslash \\ slash /', b'"quote \\" backslash \\\\ slash /"'),
    ("\b\f\n\r\t", b'"\\b\\f\\n\\r\\t"'),
    ("\x00\x01\x1f", b'"\\u0000\\u0001\\u001f"'),
    ("\x7f\u2028", "\"\x7f\u2028\"".encode()),  # DEL and LINE SEPARATOR are not escaped
]


@pytest.mark.parametrize("value,expected", VECTORS, ids=[repr(v[1])[:40] for v in VECTORS])
def test_canonical_vectors(value, expected):
    assert canonical_json(value) == expected
    assert parse_canonical(expected) == value


def test_key_order_does_not_depend_on_insertion_order():
    a = {"procedure_code": "1.001193", "channel": "postal", "objects": [{"size": 1, "name": "x"}]}
    b = dict(reversed(list(a.items())))
    b["objects"] = [dict(reversed(list(a["objects"][0].items())))]
    assert canonical_json(a) == canonical_json(b)
    assert sha256_hex(canonical_json(a)) == sha256_hex(canonical_json(b))


@pytest.mark.parametrize("value,where", [
    (1.0, "$"),
    (0.5, "$"),
    ({"size": 1.5}, "$.size"),
    ([1, 2, math.nan], "$[2]"),
    ({"a": {"b": math.inf}}, "$.a.b"),
])
def test_floats_are_refused_naming_the_place(value, where):
    with pytest.raises(CanonicalJSONError, match="float") as info:
        canonical_json(value)
    assert str(info.value).startswith(where + ":")


@pytest.mark.parametrize("value", [2**53, -(2**53), 10**30, {"n": 2**64}])
def test_integers_beyond_2_53_are_refused(value):
    with pytest.raises(CanonicalJSONError, match=r"outside \+/-2\^53-1"):
        canonical_json(value)


@pytest.mark.parametrize("value,message", [
    ("\ud800", "lone surrogate"),
    ({"k": "a\udfffb"}, "lone surrogate"),
    ({1: "x"}, "not a string"),
    ({"s": {1, 2}}, "cannot be encoded"),
    (b"bytes", "cannot be encoded"),
])
def test_values_json_cannot_carry_safely_are_refused(value, message):
    with pytest.raises(CanonicalJSONError, match=message):
        canonical_json(value)


@pytest.mark.parametrize("data,message", [
    (b'{"b":1,"a":2}', "not in canonical form"),          # unsorted
    (b'{"a": 2}', "not in canonical form"),              # whitespace
    (b'{"a":2,"a":3}', "not in canonical form"),         # duplicate key (a reader would keep only one)
    (b'"\\u00e9"', "not in canonical form"),             # needless escape
    (b"1.0", "float"),
    (b"1e3", "float"),
    (b"9007199254740992", "outside"),
    (b"\xff", "not valid UTF-8 JSON"),
    (b"{", "not valid UTF-8 JSON"),
    (b"NaN", "float"),
])
def test_parse_canonical_refuses_anything_else(data, message):
    with pytest.raises(CanonicalJSONError, match=message):
        parse_canonical(data)


# -- property tests --------------------------------------------------------------
safe_ints = st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
# Hypothesis' default text alphabet excludes surrogates, so every string is valid Unicode.
json_values = st.recursive(
    st.none() | st.booleans() | safe_ints | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_round_trip_is_exact_and_stable(value):
    data = canonical_json(value)
    assert parse_canonical(data) == value
    assert canonical_json(parse_canonical(data)) == data
    # Any standard JSON reader sees the same value.
    assert json.loads(data.decode("utf-8")) == value


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=8), safe_ints, min_size=1, max_size=8), st.randoms())
def test_bytes_do_not_depend_on_key_insertion_order(mapping, rnd):
    items = list(mapping.items())
    rnd.shuffle(items)
    assert canonical_json(dict(items)) == canonical_json(mapping)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=MAX_SAFE_INTEGER + 1) | st.integers(max_value=-MAX_SAFE_INTEGER - 1))
def test_every_unsafe_integer_is_refused(number):
    with pytest.raises(CanonicalJSONError):
        canonical_json({"n": number})


@settings(max_examples=100, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_every_float_is_refused(number):
    with pytest.raises(CanonicalJSONError):
        canonical_json([number])
