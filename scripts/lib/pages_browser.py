"""The client link pages in headless Chromium, driven by Selenium.

Run by scripts/check-pages, which installs the tools, starts the service and
passes everything through the environment:

    PAGES_BASE_URL       the service, e.g. http://127.0.0.1:PORT
    PAGES_CLIENT_ID      an API client of a practice (from `attune bootstrap`)
    PAGES_CLIENT_SECRET
    PAGES_DATABASE_URL   the service's database (expiring a link takes SQL)
    PAGES_PSQL           psql
    PAGES_AXE            axe-core's axe.min.js
    PAGES_SCREENSHOTS    where the screenshots go (docs/screenshots)
    PAGES_WORK           a scratch directory (browser profile, driver log)

Every case prints PASS or FAIL with its wall time; the exit status is 1 when
any case failed. Everything typed into the pages is checked back through the
API. The pages have no script at all (their CSP forbids it): execute_script
below only inspects the page (or injects axe-core) through WebDriver, it
never drives the forms.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, cast

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

ENV = os.environ
BASE = ENV["PAGES_BASE_URL"].rstrip("/")
WORK = ENV["PAGES_WORK"]
SHOTS = ENV["PAGES_SCREENSHOTS"]
FAILURES = os.path.join("target", "pages-failures")

CLOSED_EN = "Please contact your practice for a new link."
CLOSED_ES = "Póngase en contacto con su consulta"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
ANXIETY = ["ax1", "ax2", "ax3", "ax4", "ax5", "ax6"]
AVOIDANCE = ["av1", "av2", "av3", "av4", "av5", "av6"]
REVERSED = {"ax3", "ax5", "av3", "av5"}

# Worked by hand (see the brief): anxiety 33/6 = 5.5, avoidance 13/6, anxious.
ANXIOUS_ANSWERS = {"ax1": 6, "ax2": 5, "ax3": 2, "ax4": 6, "ax5": 3, "ax6": 5,
                   "av1": 2, "av2": 3, "av3": 6, "av4": 1, "av5": 5, "av6": 2}
ANXIOUS_SCORES = {"anxiety": 5.5, "avoidance": 13 / 6}
# Typed with the keyboard. Keyed values (8 - v for ax3, ax5, av3, av5):
# anxiety 2, 1, 8-6=2, 3, 8-7=1, 2 -> 11/6 = 1.8333 (below the cutoff of 4);
# avoidance 4, 5, 8-3=5, 6, 8-2=6, 5 -> 31/6 = 5.1667 (above it): avoidant.
KEYBOARD_ANSWERS = {"ax1": 2, "ax2": 1, "ax3": 6, "ax4": 3, "ax5": 7, "ax6": 2,
                    "av1": 4, "av2": 5, "av3": 3, "av4": 6, "av5": 2, "av6": 5}
KEYBOARD_SCORES = {"anxiety": 11 / 6, "avoidance": 31 / 6}
TOLERANCE = 1e-4


class CaseFailed(Exception):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CaseFailed(message)


def attr(element: WebElement, name: str) -> str:
    return element.get_attribute(name) or ""


def hand_scores(answers: dict[str, int]) -> dict[str, float]:
    """The scores by the instrument's rule, to cross-check the constants."""
    keyed = {k: (8 - v if k in REVERSED else v) for k, v in answers.items()}
    return {"anxiety": sum(keyed[k] for k in ANXIETY) / 6, "avoidance": sum(keyed[k] for k in AVOIDANCE) / 6}


# --- the API ------------------------------------------------------------------

class Api:
    def __init__(self, base: str, client_id: str, secret: str) -> None:
        self.base = base
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        body = urllib.parse.urlencode({"grant_type": "client_credentials"}).encode()
        request = urllib.request.Request(f"{base}/v1/oauth/token", data=body, method="POST", headers={
            "Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(request, timeout=30) as response:
            self.token = json.load(response)["access_token"]

    def call(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200, 201)) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json",
            "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        if status not in expect:
            raise CaseFailed(f"{method} {path} answered {status}, expected {expect}: {raw[:600]!r}")
        return json.loads(raw) if raw else None

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self.call("POST", path, body)


def psql(sql: str) -> None:
    subprocess.run([ENV["PAGES_PSQL"], ENV["PAGES_DATABASE_URL"], "-qAtv", "ON_ERROR_STOP=1", "-c", sql],
                   check=True, capture_output=True, text=True)


# --- the world the cases use ----------------------------------------------------

class World:
    """Two clients: one with English pages (three assessments, one homework
    assignment), one whose link is in Spanish. Links are made as needed."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.instrument = api.get("/v1/instruments?key=attachment_lean_short_form")["data"][0]["id"]
        self.exercise = api.get("/v1/exercises?key=ask_for_small_help")["data"][0]["id"]
        today = dt.datetime.now(dt.timezone.utc).date()
        self.today = today
        self.yesterday = today - dt.timedelta(days=1)
        self.client = api.post("/v1/clients", {"display_name": "Browser test"})["id"]
        # by mouse, by keyboard, and one left open (the error page, axe, screenshots)
        self.a_mouse, self.a_keyboard, self.a_open = (self.assessment(self.client) for _ in range(3))
        self.homework = self.assign(self.client)
        self.link = self.issue(self.client)
        self.client_es = api.post("/v1/clients", {"display_name": "Prueba del navegador"})["id"]
        self.a_es = self.assessment(self.client_es)
        self.h_es = self.assign(self.client_es)
        self.link_es = self.issue(self.client_es, language="es")
        axe_package = os.path.join(os.path.dirname(ENV["PAGES_AXE"]), "package.json")
        with open(axe_package, encoding="utf-8") as package:
            self.axe_version = json.load(package)["version"]

    def assessment(self, client: str) -> str:
        return str(self.api.post("/v1/assessments", {"client_id": client, "instrument_id": self.instrument})["id"])

    def assign(self, client: str) -> str:
        starts = (self.today - dt.timedelta(days=3)).isoformat()
        return str(self.api.post("/v1/homework", {"client_id": client, "exercise_id": self.exercise,
                                                  "cadence_per_week": 3, "starts_on": starts})["id"])

    def issue(self, client: str, **extra: Any) -> dict[str, Any]:
        link: dict[str, Any] = self.api.post("/v1/client-links", {"client_id": client, "all_open_assessments": True,
                                                  "all_active_homework": True, "expires_in_hours": 96, **extra})
        check(link["url"].startswith(f"{BASE}/l/atl_"), f"the link's URL does not point at the service: {link['url']}")
        return link


# --- the browser ----------------------------------------------------------------

class Browser:
    def __init__(self) -> None:
        options = Options()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--disable-extensions",
                         "--disable-features=Translate,MediaRouter,OptimizationHints", "--lang=en-US",
                         "--force-device-scale-factor=1", "--window-size=1280,800",
                         f"--user-data-dir={os.path.join(WORK, 'chrome')}"):
            options.add_argument(argument)
        options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
        service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver",
                          log_output=os.path.join(WORK, "chromedriver.log"))
        self.driver = webdriver.Chrome(service=service, options=options)
        self.driver.set_page_load_timeout(30)
        self.driver.set_script_timeout(60)
        self.user_agent = self.driver.execute_script("return navigator.userAgent")
        with open(ENV["PAGES_AXE"], encoding="utf-8") as source:
            self.axe_source = source.read()
        self.width, self.height = 1280, 800
        self.viewport(1280, 800)

    def quit(self) -> None:
        try:
            self.driver.quit()
        except WebDriverException:
            pass

    # navigation
    def wait(self, condition: Callable[[Any], Any], what: str, timeout: float = 15) -> Any:
        try:
            return WebDriverWait(self.driver, timeout).until(condition)
        except TimeoutException:
            raise CaseFailed(f"timed out after {timeout}s waiting for {what}; at {self.driver.current_url}, "
                             f"the page says: {self.text()[:400]!r}") from None

    def loaded(self) -> None:
        self.wait(lambda d: d.execute_script("return document.readyState") == "complete", "the page to load")

    def go(self, url: str) -> None:
        self.driver.get(BASE + url if url.startswith("/") else url)
        self.loaded()

    def open_link(self, link: dict[str, Any]) -> None:
        """A fresh navigation of the link's URL: the cookie, then the list."""
        self.go(link["url"])
        self.wait(lambda d: urllib.parse.urlparse(d.current_url).path == "/l/", "the redirect to the list /l/")
        self.css("h1")

    def path(self) -> str:
        parts = urllib.parse.urlparse(self.driver.current_url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def css(self, selector: str, timeout: float = 10) -> WebElement:
        def first(driver: Any) -> WebElement | bool:
            found = driver.find_elements(By.CSS_SELECTOR, selector)
            return found[0] if found else False
        return cast(WebElement, self.wait(first, f"'{selector}'", timeout))

    def all(self, selector: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def text(self) -> str:
        try:
            return self.driver.find_element(By.TAG_NAME, "body").text
        except WebDriverException:
            return ""

    def wait_path(self, prefix: str, what: str) -> None:
        self.wait(lambda d: self.path().startswith(prefix), what)
        self.loaded()

    # the mouse
    def into_view(self, element: WebElement) -> None:
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center', inline: 'nearest'})", element)

    def click(self, element: WebElement) -> None:
        self.into_view(element)
        element.click()

    def click_label(self, control_id: str) -> WebElement:
        """Clicks a radio's label in its own padding, right of its text, well
        away from the input; returns the input."""
        label = self.css(f'label[for="{control_id}"]')
        self.into_view(label)
        width = label.rect["width"]
        ActionChains(self.driver).move_to_element_with_offset(label, int(width / 2) - 5, 0).click().perform()
        radio = self.driver.find_element(By.ID, control_id)
        check(radio.is_selected(), f"clicking the label of #{control_id} did not check it")
        return radio

    # the keyboard
    def keys(self, *keys: str) -> None:
        ActionChains(self.driver).send_keys(*keys).perform()

    def focused(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.driver.execute_script("""
            const e = document.activeElement, s = getComputedStyle(e);
            return {tag: e.tagName.toLowerCase(), id: e.id, name: e.getAttribute('name') || '',
                    type: e.getAttribute('type') || '', value: e.value === undefined ? '' : String(e.value),
                    checked: !!e.checked, href: e.getAttribute('href') || '',
                    text: (e.innerText || '').trim().slice(0, 60),
                    outline: s.outlineStyle, outlineWidth: s.outlineWidth, outlineColor: s.outlineColor,
                    html: e.outerHTML.slice(0, 160)};"""))

    # the window
    def viewport(self, width: int, height: int) -> None:
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
        self.width, self.height = width, height

    def full_screenshot(self, path: str) -> None:
        metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True, "fromSurface": True,
            "clip": {"x": 0, "y": 0, "width": self.width, "height": max(self.height, math.ceil(size["height"])),
                     "scale": 1}})
        with open(path, "wb") as out:
            out.write(base64.b64decode(shot["data"]))

    def accept_language(self, value: str) -> None:
        self.driver.execute_cdp_cmd("Emulation.setUserAgentOverride",
                                    {"userAgent": self.user_agent, "acceptLanguage": value})

    # axe
    def axe(self, page: str) -> tuple[list[str], int, list[str]]:
        """Runs axe-core on the current page: its violations as lines, how
        many rules passed, and the rules it left for a person to review."""
        self.driver.execute_script(self.axe_source + "\n;window.__axe_loaded = typeof axe === 'object';")
        loaded = self.driver.execute_script("return window.__axe_loaded === true")
        check(loaded, f"axe-core did not load on {page} (is injection blocked?)")
        result = self.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})
              .then(r => done({violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                         nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary}))})),
                         passes: r.passes.length,
                         incomplete: r.incomplete.map(v => v.id + ' (' + v.nodes.length + ')')}))
              .catch(e => done({error: String(e)}));""", AXE_TAGS)
        check("error" not in result, f"axe-core failed on {page}: {result.get('error')}")
        lines = []
        for violation in result["violations"]:
            lines.append(f"{page}: {violation['id']} ({violation['impact']}): {violation['help']}")
            for node in violation["nodes"]:
                lines.append(f"    target {node['target']}: {node['html'][:300]}")
                summary = " ".join((node.get("summary") or "").split())
                if summary:
                    lines.append(f"      {summary[:300]}")
        return lines, result["passes"], result["incomplete"]


# --- the cases ----------------------------------------------------------------

def assessment_scores(api: Api, assessment: str, expected: dict[str, float], label: str) -> str:
    found = api.get(f"/v1/assessments/{assessment}")
    check(found.get("status") == "completed", f"assessment {assessment} is {found.get('status')!r}, not completed")
    scores = {s["key"]: s["score"] for s in found.get("scores") or []}
    for key, value in expected.items():
        check(key in scores and scores[key] is not None and abs(scores[key] - value) <= TOLERANCE,
              f"assessment {assessment}: {key} scored {scores.get(key)!r}, expected {value:.4f}")
    got = (found.get("classification") or {}).get("label")
    check(got == label, f"assessment {assessment}: classified {got!r}, expected {label!r}")
    return ", ".join(f"{k} {scores[k]:.4f}" for k in expected) + f", {label}"


def submitted_through(api: Api, link: dict[str, Any], kind: str, item: str) -> None:
    found = api.get(f"/v1/client-links/{link['id']}")
    ok = any(s["kind"] == kind and s["item_id"] == item for s in found["submissions"])
    check(ok, f"link {link['id']}'s submissions do not include the {kind} {item}: {found['submissions']}")


def case_mouse(b: Browser, w: World) -> str:
    a = w.a_mouse
    b.open_link(w.link)
    b.click(b.css(f'a[href="/l/assessments/{a}"]'))
    b.wait_path(f"/l/assessments/{a}", "the assessment form")
    b.css("fieldset#item-ax1.question")
    for item in ANXIETY:
        b.click_label(f"item-{item}-{ANXIOUS_ANSWERS[item]}")
    b.click(b.css('button[name="action"][value="save"]'))
    b.wait_path(f"/l/assessments/{a}?saved=1", "the saved form (?saved=1)")
    b.css('p.status[role="status"]')

    def saved_answers_checked(where: str) -> None:
        for item in ANXIETY:
            radio = b.driver.find_element(By.ID, f"item-{item}-{ANXIOUS_ANSWERS[item]}")
            check(radio.is_selected(), f"{where}: the saved answer {item}={ANXIOUS_ANSWERS[item]} is not checked")
        extra = [attr(r, "id") for r in b.all('input[type="radio"]:checked')
                 if attr(r, "name").removeprefix("item.") not in ANXIETY]
        check(not extra, f"{where}: answers never given are checked: {extra}")

    saved_answers_checked("after saving")
    # Come back the way a client would: the link from the message again.
    b.open_link(w.link)
    b.click(b.css(f'a[href="/l/assessments/{a}"]'))
    b.wait_path(f"/l/assessments/{a}", "the assessment form again")
    b.css("fieldset#item-ax1.question")
    saved_answers_checked("coming back through the link")
    for item in AVOIDANCE:
        b.click_label(f"item-{item}-{ANXIOUS_ANSWERS[item]}")
    b.click(b.css('button[name="action"][value="submit"]'))
    b.wait_path("/l/thanks", "the thank-you page")
    check("Thank you" in b.css("h1").text, f"the thank-you page's heading is {b.css('h1').text!r}")
    scores = assessment_scores(w.api, a, ANXIOUS_SCORES, "anxious")
    submitted_through(w.api, w.link, "assessment", a)
    return scores


def case_homework(b: Browser, w: World) -> str:
    h = w.homework
    b.open_link(w.link)
    b.click(b.css(f'a[href="/l/homework/{h}"]'))
    b.wait_path(f"/l/homework/{h}", "the homework form")
    date = b.css("#date")
    check(attr(date, "value") == w.today.isoformat(),
          f"the date starts at {date.get_attribute('value')!r}, not today {w.today}")
    # Chromium's en-US date field: month, day, year, typed in turn. Typing
    # focuses its first part. (No HOME key: the field ignores it and the page
    # scrolls, smoothly, under the next click.)
    y = w.yesterday
    b.into_view(date)
    date.send_keys(f"{y.month:02d}{y.day:02d}{y.year:04d}")
    check(attr(date, "value") == y.isoformat(),
          f"typing yesterday into #date gave {date.get_attribute('value')!r}, not {y}")
    b.click_label("done-yes")
    asked = "Asked Sam to choose the restaurant for Friday"
    reflection = "Awkward at first — then fine. They chose well; I didn't take over. ¡Bien!"
    asked_field = b.css("#field-what_i_asked")
    b.click(asked_field)
    asked_field.send_keys(asked)
    for control, value in (("#field-discomfort_before", "7"), ("#field-discomfort_after", "3")):
        field = b.css(control)
        b.click(field)
        field.clear()
        field.send_keys(value)
    b.click_label("field-let_them_do_it_their_way-0")
    reflection_field = b.css("#reflection")
    b.click(reflection_field)
    reflection_field.send_keys(reflection)
    b.click(b.css("button.primary"))
    b.wait_path("/l/thanks?sent=log", "the thank-you page after the log")
    logs = w.api.get(f"/v1/homework/{h}/logs")["data"]
    mine = [log for log in logs if log.get("reflection") == reflection]
    check(len(mine) == 1, f"expected one log with the typed reflection, found {len(mine)} among {logs}")
    log = mine[0]
    check(log["done"] is True, f"the log's done is {log['done']!r}, not true")
    check(log["occurred_at"].startswith(y.isoformat()), f"the log occurred at {log['occurred_at']}, not on {y}")
    expected = {"what_i_asked": asked, "discomfort_before": 7, "discomfort_after": 3,
                "let_them_do_it_their_way": True}
    check(log["fields"] == expected, f"the log's fields are {log['fields']}, expected {expected}")
    for key in ("discomfort_before", "discomfort_after"):
        check(type(log["fields"][key]) is int, f"{key} is a {type(log['fields'][key]).__name__}, not an integer")
    check(type(log["fields"]["let_them_do_it_their_way"]) is bool, "let_them_do_it_their_way is not a boolean")
    submitted_through(w.api, w.link, "homework_log", h)
    # The form lists it among the earlier logs.
    b.open_link(w.link)
    b.click(b.css(f'a[href="/l/homework/{h}"]'))
    b.wait_path(f"/l/homework/{h}", "the homework form again")
    rows = [r.text for r in b.all("table.logs tbody tr")]
    check(any(y.isoformat() in r and "Yes" in r for r in rows), f"table.logs does not list the new log: {rows}")
    return f"log {log['id']} on {y}: {json.dumps(log['fields'], ensure_ascii=False)}"


def case_closed(b: Browser, w: World) -> str:
    texts: dict[str, str] = {}

    def shows_closed(name: str, link: dict[str, Any]) -> None:
        # The cookie it left stops working at once, and its URL no longer opens.
        for where, url in (("the list with its cookie", "/l/"), ("its URL", link["url"])):
            b.go(url)
            text = b.text()
            check(CLOSED_EN in text, f"the {name} link, {where}: no '{CLOSED_EN}' on the page; it says {text[:300]!r}")
            texts[f"{name}, {where}"] = text

    expired = w.issue(w.client)
    b.open_link(expired)
    psql("UPDATE client_links SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' "
         f"WHERE id = '{expired['id']}'")
    state = w.api.get(f"/v1/client-links/{expired['id']}")["state"]
    check(state == "expired", f"the expired link's state is {state!r}")
    shows_closed("expired", expired)

    revoked = w.issue(w.client)
    b.open_link(revoked)
    w.api.call("DELETE", f"/v1/client-links/{revoked['id']}", expect=(204,))
    state = w.api.get(f"/v1/client-links/{revoked['id']}")["state"]
    check(state == "revoked", f"the revoked link's state is {state!r}")
    shows_closed("revoked", revoked)

    b.go(f"/l/atl_{'x' * 40}")
    texts["an unknown token"] = b.text()
    check(len(set(texts.values())) == 1, "the closed pages differ: " + json.dumps(texts, ensure_ascii=False))
    return "one identical page for " + ", ".join(texts)


def case_keyboard(b: Browser, w: World) -> str:
    a = w.a_keyboard
    check(hand_scores(KEYBOARD_ANSWERS) == KEYBOARD_SCORES, "the keyboard answers' expected scores are off")
    check(hand_scores(ANXIOUS_ANSWERS) == ANXIOUS_SCORES, "the anxious answers' expected scores are off")
    b.open_link(w.link)
    unfocused: list[str] = []
    presses = 0

    def tab_until(wanted: Callable[[dict[str, Any]], bool], what: str, limit: int = 12) -> dict[str, Any]:
        nonlocal presses
        for _ in range(limit):
            b.keys(Keys.TAB)
            presses += 1
            now = b.focused()
            if now["outline"] == "none":
                unfocused.append(now["html"])
            if wanted(now):
                return now
        raise CaseFailed(f"{limit} TABs did not reach {what}; focus is on {b.focused()['html']}")

    # Focus starts on the page: from the list to the questionnaire by keyboard.
    check(b.focused()["tag"] == "body", f"focus does not start on the page: {b.focused()['html']}")
    tab_until(lambda f: f["href"] == f"/l/assessments/{a}", "the questionnaire's link in the list")
    b.keys(Keys.ENTER)
    b.wait_path(f"/l/assessments/{a}", "the assessment form, opened with ENTER")
    b.css("fieldset#item-ax1")
    check(b.focused()["tag"] == "body", f"focus does not start on the page: {b.focused()['html']}")
    for item in ANXIETY + AVOIDANCE:
        value = KEYBOARD_ANSWERS[item]
        now = tab_until(lambda f: f["name"] == f"item.{item}", f"the radios of {item}")
        check(now["id"] == f"item-{item}-1", f"TAB into {item} focused {now['id']}, not its first radio")
        if value == 1:
            b.keys(Keys.SPACE)
        else:
            b.keys(*([Keys.ARROW_RIGHT] * (value - 1)))
        presses += max(1, value - 1)
        now = b.focused()
        check(now["id"] == f"item-{item}-{value}" and now["checked"],
              f"choosing {item}={value} with the keyboard left focus on {now['id']} (checked: {now['checked']})")
        if now["outline"] == "none":
            unfocused.append(now["html"])
    tab_until(lambda f: f["tag"] == "button" and f["value"] == "submit", "the 'Send my answers' button", 2)
    b.keys(Keys.ENTER)
    presses += 1
    b.wait_path("/l/thanks", "the thank-you page after ENTER on the submit button")
    check(not unfocused, "focused elements without a visible outline: " + "; ".join(unfocused))
    scores = assessment_scores(w.api, a, KEYBOARD_SCORES, "avoidant")
    submitted_through(w.api, w.link, "assessment", a)
    return f"{presses} key presses; {scores}; every focused element had an outline"


def case_axe(b: Browser, w: World) -> str:
    violations: list[str] = []
    pages: list[str] = []
    review: dict[str, list[str]] = {}

    # A control: the harness must see a violation where there is one.
    b.go("data:text/html;charset=utf-8," + urllib.parse.quote(
        "<!doctype html><html lang=en><title>t</title><main><img src='x.png'><input type=radio id=r></main></html>"))
    control, _, _ = b.axe("control page")
    check(any("image-alt" in v for v in control) and any("label" in v for v in control),
          "axe-core missed the control page's image-alt and label violations: " + "; ".join(control))

    def run(name: str, lang: str) -> None:
        got = attr(b.driver.find_element(By.TAG_NAME, "html"), "lang")
        check(got == lang, f"{name}: <html lang={got!r}>, expected {lang!r}")
        found, passes, incomplete = b.axe(name)
        check(passes >= 5, f"{name}: axe-core passed only {passes} rules; did it run?")
        violations.extend(found)
        for rule in incomplete:
            review.setdefault(rule.split()[0], []).append(name)
        pages.append(name)

    def errors_page(name: str, link_assessment: str) -> None:
        b.go(f"/l/assessments/{link_assessment}")
        for item in ANXIETY:
            b.click_label(f"item-{item}-4")
        b.click(b.css('button[name="action"][value="submit"]'))
        b.loaded()
        b.css('div.error-summary[role="alert"]')
        marked = sorted(attr(e, "id") for e in b.all("p.field-error"))
        check(marked == sorted(f"item-{i}-error" for i in AVOIDANCE),
              f"{name}: the per-item errors are {marked}, expected one for each of {AVOIDANCE}")
        kept = sorted(attr(r, "id") for r in b.all("input[type=radio]:checked"))
        check(kept == sorted(f"item-{i}-4" for i in ANXIETY), f"{name}: the answers given are not kept: {kept}")
        for link in b.all("div.error-summary a"):
            target = attr(link, "href").split("#", 1)[-1]
            check(bool(b.all(f"#{target}")), f"{name}: the error summary links to a missing #{target}")

    for lang, link, a, h, closed in (("en", w.link, w.a_open, w.homework, CLOSED_EN),
                                     ("es", w.link_es, w.a_es, w.h_es, CLOSED_ES)):
        b.accept_language("es-ES,es;q=0.9" if lang == "es" else "en-US,en;q=0.9")
        b.open_link(link)
        run(f"list [{lang}]", lang)
        b.go(f"/l/assessments/{a}")
        b.css("fieldset#item-ax1")
        run(f"assessment [{lang}]", lang)
        errors_page(f"assessment errors [{lang}]", a)
        run(f"assessment errors [{lang}]", lang)
        b.go(f"/l/homework/{h}")
        b.css("#date")
        run(f"homework [{lang}]", lang)
        # Done, with a discomfort out of range and the other left out.
        b.click_label("done-yes")
        before = b.css("#field-discomfort_before")
        b.click(before)
        before.send_keys("11")
        b.click(b.css("button.primary"))
        b.loaded()
        b.css('div.error-summary[role="alert"]')
        marked = sorted(attr(e, "id") for e in b.all("p.field-error"))
        expected = ["field-discomfort_after-error", "field-discomfort_before-error"]
        check(marked == expected, f"homework errors [{lang}]: the field errors are {marked}, expected {expected}")
        run(f"homework errors [{lang}]", lang)
        b.go(f"/l/thanks?sent=assessment&lang={lang}")
        run(f"thank you [{lang}]", lang)
        b.go(f"/l/thanks?sent=log&lang={lang}&done=1")
        run(f"thank you, all done [{lang}]", lang)
        # No cookie that works: the page in the browser's language.
        b.driver.delete_all_cookies()
        b.go("/l/")
        check(closed in b.text(), f"the closed page [{lang}] lacks {closed!r}: {b.text()[:300]!r}")
        run(f"contact your practice [{lang}]", lang)
    b.accept_language("en-US,en;q=0.9")
    check(not violations, f"{len(violations)} lines of axe violations:\n" + "\n".join(violations))
    left = "; ".join(f"{rule} on {len(where)} pages" for rule, where in sorted(review.items()))
    return (f"axe-core {w.axe_version}: no violations on {len(pages)} pages ({', '.join(pages)})"
            + (f"; left for review (incomplete): {left}" if left else ""))


def overflow(b: Browser) -> tuple[int, list[str]]:
    return cast(tuple[int, list[str]], b.driver.execute_script("""
        const limit = document.documentElement.clientWidth, wide = [];
        for (const e of document.querySelectorAll('body *')) {
            const r = e.getBoundingClientRect();
            if (r.right > limit + 0.5 && r.width > 0) wide.push(e.outerHTML.slice(0, 120) + ' right=' + r.right);
        }
        return [document.documentElement.scrollWidth, wide.slice(0, 5)];"""))


def case_screenshots(b: Browser, w: World) -> str:
    os.makedirs(SHOTS, exist_ok=True)
    b.open_link(w.link)
    written = []
    problems = []
    try:
        for name, path, ready in (("assessment", f"/l/assessments/{w.a_open}", "fieldset#item-ax1"),
                                  ("homework", f"/l/homework/{w.homework}", "#date")):
            for width, height in ((390, 844), (1280, 800)):
                b.viewport(width, height)
                b.go(path)
                b.css(ready)
                b.driver.execute_script("window.scrollTo(0, 0)")
                file = os.path.join(SHOTS, f"{name}-{width}x{height}.png")
                b.full_screenshot(file)
                check(os.path.getsize(file) > 10_000, f"{file} looks empty")
                written.append(f"{os.path.basename(file)} ({os.path.getsize(file) // 1024} KiB)")
            b.viewport(320, 640)
            b.go(path)
            b.css(ready)
            scroll_width, wide = overflow(b)
            if scroll_width > 320:
                problems.append(f"{name} at 320 px: scrollWidth {scroll_width} > 320; too wide: {wide}")
    finally:
        b.viewport(1280, 800)
    check(not problems, "; ".join(problems))
    return "no horizontal scrolling at 320 px; wrote " + ", ".join(written)


def case_target_size(b: Browser, w: World) -> str:
    b.open_link(w.link)
    small: list[str] = []
    counted = 0
    try:
        for width, height in ((320, 640), (390, 844), (1280, 800)):
            b.viewport(width, height)
            for path, ready in ((f"/l/assessments/{w.a_open}", "fieldset#item-ax1"), (f"/l/homework/{w.homework}",
                                                                                       "#date")):
                b.go(path)
                b.css(ready)
                found = b.driver.execute_script("""
                    const out = [];
                    const targets = [...document.querySelectorAll('button, a.button')];
                    for (const radio of document.querySelectorAll('input[type=radio]')) {
                        for (const label of radio.labels) targets.push(label);
                    }
                    for (const e of targets) {
                        const s = getComputedStyle(e), r = e.getBoundingClientRect();
                        if (s.display === 'none' || s.visibility === 'hidden' || (r.width === 0 && r.height === 0)) continue;
                        out.push({html: e.outerHTML.slice(0, 140), w: r.width, h: r.height});
                    }
                    return out;""")
                counted += len(found)
                for target in found:
                    if target["w"] < 24 or target["h"] < 24:
                        small.append(f"{path} at {width} px: {target['w']:.1f}x{target['h']:.1f} {target['html']}")
    finally:
        b.viewport(1280, 800)
    check(counted > 0, "no radio labels or buttons found")
    check(not small, f"{len(small)} targets under 24x24 CSS px: " + "; ".join(small[:10]))
    return f"{counted} radio labels and buttons checked at 320, 390 and 1280 px, all at least 24x24"


CASES: list[tuple[str, Callable[[Browser, World], str]]] = [
    ("1 mouse: labels, save, come back, submit", case_mouse),
    ("2 homework log through the form", case_homework),
    ("3 expired and revoked links", case_closed),
    ("4 keyboard only, visible focus", case_keyboard),
    ("5 axe-core WCAG 2.2 AA, en and es", case_axe),
    ("6 screenshots, reflow at 320 px", case_screenshots),
    ("7 target size 24x24", case_target_size),
]


def line(name: str, seconds: float, outcome: str) -> None:
    print(f"{name:<44} {seconds:6.1f}s  {outcome}", flush=True)


def main() -> int:
    start = time.monotonic()
    try:
        api = Api(BASE, ENV["PAGES_CLIENT_ID"], ENV["PAGES_CLIENT_SECRET"])
        world = World(api)
        browser = Browser()
    except Exception as err:  # noqa: BLE001 - any set-up failure ends the run
        line("set-up (API data, browser)", time.monotonic() - start, "FAIL")
        print(f"    {type(err).__name__}: {err}")
        traceback.print_exc()
        return 1
    line("set-up (API data, browser)", time.monotonic() - start, "ok")
    failed = []
    shutil.rmtree(FAILURES, ignore_errors=True)
    try:
        for name, case in CASES:
            began = time.monotonic()
            try:
                detail = case(browser, world)
            except Exception as err:  # noqa: BLE001 - reported as the case's failure
                failed.append(name)
                line(name, time.monotonic() - began, "FAIL")
                message = str(err) if isinstance(err, CaseFailed) else f"{type(err).__name__}: {err}"
                for text in message.splitlines():
                    print(f"    {text}")
                if not isinstance(err, CaseFailed):
                    traceback.print_exc(file=sys.stdout)
                try:
                    os.makedirs(FAILURES, exist_ok=True)
                    shot = os.path.join(FAILURES, name.split()[0] + ".png")
                    browser.driver.save_screenshot(shot)
                    print(f"    the browser was at {browser.driver.current_url}; screenshot: {shot}")
                except WebDriverException:
                    pass
                browser.viewport(1280, 800)
                continue
            line(name, time.monotonic() - began, "PASS")
            print(f"    {detail}")
    finally:
        browser.quit()
    line("browser cases", time.monotonic() - start, f"{len(CASES) - len(failed)} of {len(CASES)} passed")
    if failed:
        print("failed: " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
