"""What the dashboard's browser tests share: a headless Chromium driven by selenium, the
checks every page gets (no console error, no Content-Security-Policy violation), and plain
HTTP calls to the API and the edge.

The scripts are run by tests/it/dashboard.rs with one argument, a JSON file of what they need
(URLs, credentials, sign-in links); they print one JSON line of what they saw, and fail with a
message (exit status 1) at the first check that does not hold."""

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def arguments():
    with open(sys.argv[1]) as f:
        return json.load(f)


def browser(width=390, height=844):
    """Headless Chromium at a phone's width (390 px) unless told otherwise, keeping the
    browser's console log. A missing browser or driver fails: never a skip."""
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ["QREDGE_TEST_CHROMIUM"]
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=os.environ["QREDGE_TEST_CHROMEDRIVER"])
    return webdriver.Chrome(service=service, options=options)


def check_console(driver, expected_status=None):
    """Fails on any console error or CSP violation since the last check. A navigation that was
    meant to be refused logs its status as an error ("... status of 403"): that one is allowed."""
    problems = []
    for entry in driver.get_log("browser"):
        message = entry["message"]
        if expected_status and f"status of {expected_status}" in message:
            continue
        if entry["level"] == "SEVERE" or "Content Security Policy" in message:
            problems.append(message)
    check(not problems, f"console errors or CSP violations on {driver.current_url}: {problems}")


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def visit(driver, url, expected_status=None):
    driver.get(url)
    check_console(driver, expected_status)


def submit(driver, form_id=None, button_id=None, expected_status=None):
    """Clicks a form's button and waits for the next page."""
    old = driver.find_element(By.TAG_NAME, "html")
    button = driver.find_element(By.ID, button_id) if button_id else driver.find_element(
        By.CSS_SELECTOR, f"#{form_id} button[type=submit]")
    button.click()
    WebDriverWait(driver, 15).until(lambda d: _stale(old))
    check_console(driver, expected_status)


def _stale(element):
    try:
        element.is_enabled()
        return False
    except Exception:
        return True


def follow(driver, link_id, then_id):
    """Clicks a link and waits for the next page's element `then_id`."""
    driver.find_element(By.ID, link_id).click()
    WebDriverWait(driver, 15).until(lambda d: d.find_elements(By.ID, then_id))
    check_console(driver)


def fill(driver, field_id, value):
    element = driver.find_element(By.ID, field_id)
    element.clear()
    element.send_keys(value)


def text_of(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def wait_for_text(driver, element_id, wanted, seconds=20):
    WebDriverWait(driver, seconds).until(lambda d: d.find_element(By.ID, element_id).text == wanted)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_plain = urllib.request.build_opener(_NoRedirect)


def http(method, url, headers=None, body=None):
    """(status, headers, body text) of one request, redirects not followed."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with _plain.open(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def api(args, method, path, body=None, team=None):
    """A call of the management API with the owner's credentials: (status, JSON)."""
    headers = {
        "x-request-team-id": team or args["teamId"],
        "x-request-client-id": args["clientId"],
        "x-request-client-secret": args["clientSecret"],
        "content-type": "application/json",
    }
    status, _, text = http(method, args["api"] + path, headers, json.dumps(body) if body else None)
    return status, json.loads(text)


def scan(args, display_id):
    """A phone's scan on the edge: where it was sent. A code just made may take the edge a
    moment to hear of: a 404 is asked again, for up to 10 s."""
    deadline = time.monotonic() + 10
    while True:
        status, headers, _ = http("GET", f"{args['edge']}/{display_id}",
                                  {"user-agent": IPHONE_SAFARI})
        if status != 404 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    check(status == 302, f"the edge answered {status} for {display_id}")
    return headers["location"]


def scan_until(args, display_id, wanted):
    """Scans until the edge sends the phone to `wanted` (an edit reaching it), for up to 10 s;
    where it sent the last scan."""
    deadline = time.monotonic() + 10
    while True:
        location = scan(args, display_id)
        if location == wanted or time.monotonic() > deadline:
            return location
        time.sleep(0.1)


def session_post(driver, path, fields):
    """A POST with the browser's cookies but not through its page: what a forged form sends."""
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    headers = {"cookie": cookies, "content-type": "application/x-www-form-urlencoded"}
    body = urllib.parse.urlencode(fields)
    return http("POST", driver.current_url.split("/", 3)[0] + "//" +
                driver.current_url.split("/", 3)[2] + path, headers, body)


def csrf_of(driver):
    return driver.find_element(By.CSS_SELECTOR, "input[name=csrf]").get_attribute("value")


SCREENSHOTS = os.environ.get("QREDGE_DASHBOARD_SCREENSHOTS") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "target", "dashboard-screenshots")


def screenshot(driver, name):
    """Saves the whole page as NAME.png among the run's screenshots (docs/dashboard.md shows
    them): what the real app looked like in this run."""
    os.makedirs(SCREENSHOTS, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, max(height, 600))
    driver.save_screenshot(os.path.join(SCREENSHOTS, f"{name}.png"))


def report(**seen):
    print(json.dumps(seen))


# The impacts axe_check fails on; "minor" and "moderate" findings are reported by axe but
# not failed on here.
AXE_FAILING_IMPACTS = ("serious", "critical")


def axe_check(driver, page_name):
    """Runs axe-core (QREDGE_TEST_AXE_JS, installed by scripts/test.sh) on the page as it is
    now, and fails on any violation of impact serious or critical, naming the rule, its help
    text and the elements it found. WebDriver injects the file, so the page's CSP is not
    loosened for it."""
    with open(os.environ["QREDGE_TEST_AXE_JS"]) as f:
        driver.execute_script(f.read())
    driver.set_script_timeout(60)
    violations = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        axe.run(document, { resultTypes: ["violations"] })
          .then(result => done(result.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")) }))))
          .catch(error => done([{ id: "axe-error", impact: "critical", help: String(error), nodes: [] }]));
    """)
    failing = [v for v in violations if v["impact"] in AXE_FAILING_IMPACTS]
    check(not failing, f"axe-core on {page_name} ({driver.current_url}): {failing}")
    check_console(driver)


def session_get(driver, path, headers=None):
    """A GET with the browser's cookies but not through its page: (status, headers, body)."""
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    origin = "/".join(driver.current_url.split("/", 3)[:3])
    return http("GET", origin + path, {"cookie": cookies, **(headers or {})})
