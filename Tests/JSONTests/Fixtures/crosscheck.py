#!/usr/bin/env python3
"""Second opinion for JSONCrossCheckTests: reads one hex-encoded text per line on stdin and
prints 1 (valid) or 0 (refused) per line, by Python's json module made as strict as wgd's codec:
strict UTF-8, no byte order mark, no NaN/Infinity, no duplicate keys, no lone surrogates."""
import json
import sys


def refuse_constant(name):
    raise ValueError("constant " + name)


def unique_pairs(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    for k in keys:
        check_string(k)
    return dict(pairs)


def check_string(s):
    # Python's json decodes a lone surrogate escape into a lone surrogate; RFC 8259 text cannot
    # name one as a character, and wgd refuses it.
    s.encode("utf-8")


def check(value):
    if isinstance(value, str):
        check_string(value)
    elif isinstance(value, list):
        for v in value:
            check(v)
    elif isinstance(value, dict):
        for v in value.values():
            check(v)


def valid(data):
    try:
        text = data.decode("utf-8")
        if text.startswith("\ufeff"):
            return False
        check(json.loads(text, parse_constant=refuse_constant, object_pairs_hook=unique_pairs))
        return True
    except (ValueError, UnicodeError, RecursionError):
        return False


for line in sys.stdin:
    print(1 if valid(bytes.fromhex(line.strip())) else 0)
