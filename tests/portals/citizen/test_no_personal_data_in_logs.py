"""No personal data in the server's logs or in the portal's URLs: the JSON log lines of a set
of portal requests (logging in, acting for a child, reading the record and a result, sending
a message, the privacy page) carry no FNR and no name of anyone in the demo cast, and no
Location the portal sends a browser to carries one either."""

from __future__ import annotations

import io
import logging
import re

import orjson

from ehelse.nobasis.seed import DEMO_CAST
from ehelse.web.logs import JsonFormatter

from portals.citizen.test_routes import act_for, app, csrf, login  # noqa: F401  (the module's app fixture)

NAMES = ["Kari Nordmann", "Emma Nordmann", "Nordmann", "Astrid Hansen", "Hansen", "Liv Hansen", "Per Johansen"]


def test_portal_requests_log_no_fnr_and_no_name(app):  # noqa: F811
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("ehelse")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    locations: list[str] = []
    try:
        kari = login(app, "kari")
        act_for(kari, "demo-emma")
        for path in ("/innbygger/", "/innbygger/journal", "/innbygger/provesvar", "/innbygger/meldinger",
                     "/innbygger/legemidler", "/innbygger/timer"):
            assert kari.get(path).status_code == 200
        page = kari.get("/innbygger/meldinger").text
        recipient = re.search(r'<option value="([^"]+)"', page).group(1)
        sent = kari.post("/innbygger/meldinger", data={"recipient": recipient, "text": "Emma Nordmann har feber",
                                                       "csrf_token": csrf(kari, "/innbygger/meldinger")})
        locations.append(sent.headers["location"])
        assert kari.get(sent.headers["location"]).status_code == 200
        astrid = login(app, "astrid")
        for path in ("/innbygger/personvern", "/innbygger/provesvar/85354-9", "/innbygger/fullmakt"):
            assert astrid.get(path).status_code == 200
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    lines = [orjson.loads(line) for line in captured.getvalue().splitlines() if line.startswith("{")]
    portal_lines = [line for line in lines if "/innbygger" in line.get("path", "")]
    assert len(portal_lines) >= 10, lines[:5]  # the access log did record the requests
    text = captured.getvalue() + "\n".join(locations)
    for member in DEMO_CAST.values():
        for number in (getattr(member, "fnr", None),):
            if number:
                assert number not in text, f"an FNR in the logs or a URL: {member}"
    for name in NAMES:
        assert name not in text, f"a name in the logs or a URL: {name}"
    assert "har feber" not in text  # nor a message's text
