"""Naming an app, the same way in every command: a declared id, a stored subject, HOST/APP_KEY, a
bare app key, a URL (front and back) or a fragment of a name; ambiguous names list the choices,
and every list prints a name `ronda explain` takes.

The fleet (naming_fleet.py): two servers whose default vhosts share one app key, nginx on 443 in
front of Apache's name-based vhosts (the portal, and an Adminer console reached through the same
front block), a declared app that runs nowhere, and an undeclared site.
"""

from __future__ import annotations

import json

import pytest
from naming_fleet import column, invoke

SIMPEG = "agent-web2/nginx:simpeg.prov.example:80/"


@pytest.mark.parametrize(
    "text, subject",
    [
        ("APP-3", "APP-3"),  # a declared id
        ("app-3", "APP-3"),  # in any case
        (SIMPEG, SIMPEG),  # a subject as ronda stores it (CSV and JSON lists print it)
        ("web2/nginx:simpeg.prov.example:80/", SIMPEG),  # HOST/APP_KEY by host name
        ("nginx:simpeg.prov.example:80/", SIMPEG),  # the bare key: one host has it
        ("web1/nginx:simpus.prov.example:80/", "APP-3"),  # a discovered app answers as its declared app
        ("https://simpus.prov.example/pasien/", "APP-3"),  # a URL under the app's prefix
        ("puskesmas", "APP-3"),  # part of a declared name
        ("simpeg", SIMPEG),  # part of a served name
        ("https://portal.prov.example", "APP-1"),  # front and backend are both APP-1: one story
    ],
)
def test_every_naming_form_explains_its_app(fleet, text, subject):
    result = invoke(fleet, "explain", text, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["subject"] == subject


@pytest.mark.parametrize(
    "text, choices",
    [
        ("nginx:_:80/", ["  web1/nginx:_:80/  undeclared: _", "  web2/nginx:_:80/  undeclared: _"]),
        ("simpus", ["  APP-3  SIMPUS Puskesmas", "  APP-4  Arsip SIMPUS"]),
        (
            "https://adminer.prov.example",
            [
                "APP-1 front, proxies to http://127.0.0.1:8080; Portal Pemprov",
                "  web1/apache:adminer.prov.example:8080/  backend behind portal.prov.example; "
                "undeclared: adminer.prov.example",
            ],
        ),
    ],
    ids=["a key two hosts have", "a fragment of two names", "a URL served front and back"],
)
def test_an_ambiguous_name_lists_what_to_type_instead(fleet, text, choices):
    result = invoke(fleet, "decide", text, "keep", "--reason", "x", "--by", "y")
    assert result.exit_code == 2
    lines = [" ".join(line.split()) for line in result.output.splitlines()]  # columns aligned with spaces
    for choice in choices:
        assert " ".join(choice.split()) in lines, result.output
    assert invoke(fleet, "decisions", "--format", "json").output.strip() == "[]"  # nothing recorded


def test_explain_a_url_served_front_and_back_tells_both_stories(fleet):
    result = invoke(fleet, "explain", "https://adminer.prov.example")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "https://adminer.prov.example is served by:"
    assert lines[3].split() == ["front,", "proxies", "to", "http://127.0.0.1:8080", *lines[3].split()[4:]]
    assert (
        "web1/apache:adminer.prov.example:8080/" in lines[4]
        and "backend behind portal.prov.example" in lines[4]
    )
    assert "APP-1  Portal Pemprov" in result.output and "(undeclared)" in result.output
    as_json = json.loads(invoke(fleet, "explain", "https://adminer.prov.example", "--format", "json").output)
    assert [s["subject"] for s in as_json] == ["APP-1", "agent-web1/apache:adminer.prov.example:8080/"]


def test_explain_shows_what_a_declared_app_proxies_to(fleet):
    story = invoke(fleet, "explain", "APP-1").output
    assert (
        "  behind it (apps of their own, that it depends on):\n    web1/apache:adminer.prov.example:8080/: "
        in story
    )
    assert (
        "portal.prov.example proxies to it (http://127.0.0.1:8080), asking for Host adminer.prov.example"
        in story
    )
    assert "web1/apache:portal.prov.example:8080/:" not in story  # part of APP-1 itself, not behind it


def test_a_name_that_names_nothing_says_what_would(fleet):
    result = invoke(fleet, "explain", "sistem-yang-tidak-ada")
    assert result.exit_code == 2
    assert "no app 'sistem-yang-tidak-ada': give a declared app id, HOST/APP_KEY or APP_KEY" in result.output


def test_pins_take_the_same_names(fleet):
    result = invoke(fleet, "inventory", "link", "APP-4", "simpeg", "--by", "ops", "--reason", "renamed")
    assert (
        result.exit_code == 0 and "pinned APP-4 and agent-web2/nginx:simpeg.prov.example:80/" in result.output
    )
    ambiguous = invoke(fleet, "inventory", "unlink", "APP-1", "nginx:_:80/")
    assert ambiguous.exit_code == 2 and "web1/nginx:_:80/" in ambiguous.output


def test_every_list_prints_a_name_explain_takes(fleet):
    for app in ("web2/nginx:_:80/", "APP-4"):  # a key two hosts share, and a declared app
        assert invoke(fleet, "decide", app, "keep", "--reason", "x", "--by", "y").exit_code == 0
    verdicts = [f"--verdict={v}" for v in ("safe-to-take-down", "review", "keep", "insufficient-evidence")]
    names = column(invoke(fleet, "candidates", *verdicts).output, "APP")
    names += [n for n in column(invoke(fleet, "findings").output, "SUBJECT") if not n.startswith("listener:")]
    assert "web1/nginx:_:80/" in names and "nginx:simpeg.prov.example:80/" in names and "APP-4" in names
    apps = column(invoke(fleet, "apps").output, "APP_KEY")
    assert {"web1/nginx:_:80/", "web2/nginx:_:80/", "nginx:simpeg.prov.example:80/"} <= set(apps)
    decisions = column(invoke(fleet, "decisions").output, "APP")
    assert sorted(decisions) == ["APP-4", "web2/nginx:_:80/"]
    declared = column(invoke(fleet, "inventory", "list").output, "APP_ID")
    assert declared == ["APP-1", "APP-2", "APP-3", "APP-4"]
    for name in {*names, *apps, *decisions, *declared}:
        result = invoke(fleet, "explain", name, "--format", "json")
        assert result.exit_code == 0, (name, result.output)
