"""What the check scripts share to talk to a running `attune serve`: its
readiness, and a request with the body and credentials the API takes.
Imported from the scripts beside it (Python puts a script's own folder on
its path).
"""

import json
import time
import urllib.error
import urllib.request


def wait_ready(base, attempts=200):
    """True once BASE/readyz answers 2xx (within about ATTEMPTS / 20 s)."""
    for _ in range(attempts):
        try:
            urllib.request.urlopen(f"{base}/readyz", timeout=1)
            return True
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)
    return False


def request(url, method, body=None, token=None, form=None, basic=None, headers=None):
    """A urllib request: BODY as JSON or FORM as a form, with a bearer TOKEN or
    BASIC credentials (already base64) and any other HEADERS."""
    headers = dict(headers or {})
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if form is not None:
        data, headers["Content-Type"] = form.encode(), "application/x-www-form-urlencoded"
    if token:
        headers["Authorization"] = "Bearer " + token
    if basic:
        headers["Authorization"] = "Basic " + basic
    return urllib.request.Request(url, data=data, method=method, headers=headers)
