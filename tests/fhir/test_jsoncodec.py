"""FHIR JSON keeps numbers exactly (json.html#primitive) and rejects what is not JSON."""

import pytest

from ehelse.errors import BadRequest
from ehelse.fhir import jsoncodec


@pytest.mark.parametrize("text", ["1.50", "72.50", "1e3", "-0.0", "0.100", "123456789012345678901234", "1.0E-7"])
def test_numbers_keep_their_text(text):
    parsed = jsoncodec.loads(('{"v":' + text + "}").encode())
    assert jsoncodec.dumps(parsed) == ('{"v":' + text + "}").encode()
    assert jsoncodec.number_text(parsed["v"]) == text
    assert jsoncodec.is_number(parsed["v"])


def test_plain_numbers_stay_python_numbers():
    parsed = jsoncodec.loads(b'{"a": 1, "b": 2.5, "c": true}')
    assert parsed == {"a": 1, "b": 2.5, "c": True}
    assert type(parsed["b"]) is float
    assert not jsoncodec.is_number(parsed["c"])


def test_key_order_is_kept():
    body = b'{"resourceType":"Patient","name":[{"given":["B","A"]}],"active":true,"birthDate":"2000-01-01"}'
    assert jsoncodec.dumps(jsoncodec.loads(body)) == body


@pytest.mark.parametrize("body", [
    b"{", b'{"a":}', b"[1,2", b'{"a": NaN}', b'{"a": Infinity}', b"\xff\xfe{}", b'{"a":"\xc3"}',
    b"", b"   ",
])
def test_malformed_json_is_a_bad_request(body):
    with pytest.raises(BadRequest) as caught:
        jsoncodec.loads(body)
    assert caught.value.status == 400
    assert caught.value.outcome()["issue"][0]["code"] == "structure"


def test_deep_nesting_is_refused_before_parsing():
    body = b'{"a":' * 200 + b"1" + b"}" * 200
    with pytest.raises(BadRequest, match="deeper than 64"):
        jsoncodec.loads(body)


def test_brackets_inside_strings_do_not_count_as_depth():
    body = b'{"text": "' + b"[{" * 500 + b'"}'
    assert jsoncodec.loads(body) == {"text": "[{" * 500}


def test_byte_order_mark_is_accepted():
    assert jsoncodec.loads("\ufeff{}".encode()) == {}


def _depth_by_hand(text: str) -> int:
    """Nesting depth by a plain character walk, strings (with escapes) skipped."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (ch == "\\", ch != '"')
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def test_depth_check_agrees_with_a_character_walk():
    # escaped quotes and backslashes decide where a string ends, so brackets after them count
    import random

    rng = random.Random(7)
    pieces = ["[", "{", "]", "}", "1", ","]
    for _ in range(3000):
        parts = []
        for _ in range(rng.randint(0, 20)):
            if rng.random() < 0.3:  # a string holding brackets, escaped quotes and backslashes
                parts.append('"' + "".join(rng.choice(['x', '[', '{', '\\"', '\\\\'])
                                           for _ in range(rng.randint(0, 6))) + '"')
            else:
                parts.append(rng.choice(pieces))
        text = "".join(parts)
        for limit in (1, 3, 6):
            assert jsoncodec._too_deep(text, limit) == (_depth_by_hand(text) > limit), text


@pytest.mark.parametrize("body", [b'{"a":"x\\ud800y"}', b'{"a\\udc00":1}', b'{"a":[{"b":"\\uDBFF"}]}', b'"\\udfff"'])
def test_a_lone_surrogate_escape_is_400(body):
    # RFC 8259 section 8.2: grammatical, but no Unicode text; nothing after parsing can encode it
    with pytest.raises(BadRequest, match="lone surrogate"):
        jsoncodec.loads(body)


@pytest.mark.parametrize("body, value", [
    (b'{"a":"\\ud83d\\ude00"}', {"a": "\U0001f600"}),  # an escaped pair is one character
    (b'{"a":"\\\\ud800"}', {"a": "\\ud800"}),  # an escaped backslash, then text
    ('{"a":"Østby"}'.encode(), {"a": "Østby"}),
])
def test_surrogate_pairs_and_look_alikes_are_accepted(body, value):
    assert jsoncodec.loads(body) == value
