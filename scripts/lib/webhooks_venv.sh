# The Standard Webhooks reference library (standardwebhooks, pinned) in
# .venv/webhooks, installed on first use: what scripts/lib/webhook_check.py
# verifies every delivery's signature with. Sets webhooks_python.
standardwebhooks_version="1.1.0"
webhooks_python=.venv/webhooks/bin/python
if ! "$webhooks_python" -c "import standardwebhooks" 2>/dev/null \
    || ! .venv/webhooks/bin/pip show standardwebhooks 2>/dev/null | grep -q "^Version: $standardwebhooks_version$"; then
    python3 -m venv .venv/webhooks
    .venv/webhooks/bin/pip install -q --disable-pip-version-check "standardwebhooks==$standardwebhooks_version"
fi
