"""The analytics pages in a real browser: sign in with the first start's link; from the code's
page to its analytics (0 scans); a phone and a desktop (two countries, through the edge's
trusted proxy header) and a bot scan it at the edge, and the page moves by itself: counts,
charts, breakdowns, bots apart, the scans table, the polite announcement. The live fragment
answers 304 while nothing changes; the range form redraws the daily chart; the team's page
counts the team's scans and lists them in its scans table, 25 a page; another team's code is
404. axe-core on every page; screenshots at a phone's width and a desktop's."""

import time

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from common import (IPHONE_SAFARI, arguments, axe_check, browser, check, follow, http, report,
                    screenshot, session_get, submit, text_of, visit)

MAC_SAFARI = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Version/17.0 Safari/605.1.15")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
DIMENSIONS = ("country", "city", "device", "browser", "os", "referrer")


def scan_from(args, address, user_agent):
    """A scan on the edge from `address` (the edge trusts loopback's X-Forwarded-For); a code
    just made may take the edge a moment to hear of: a 404 is asked again, for up to 10 s."""
    deadline = time.monotonic() + 10
    while True:
        status, _, _ = http("GET", f"{args['edge']}/{args['displayId']}",
                            {"user-agent": user_agent, "x-forwarded-for": address})
        if status != 404 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    check(status == 302, f"the edge answered {status}")


def rows(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def breakdowns(driver):
    """Each breakdown's rows as "value scans"."""
    seen = {}
    for name in DIMENSIONS:
        seen[name] = [
            " ".join(td.text for td in row.find_elements(By.TAG_NAME, "td")[:2])
            for row in rows(driver, f"#breakdown-{name} tbody tr")
            if len(row.find_elements(By.TAG_NAME, "td")) == 3
        ]
    return seen


def wait_until(driver, condition, seconds=20):
    """Waits for `condition`; an element the live fragment replaced meanwhile is read again."""
    WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: condition())


def take_screenshots(driver, url, name):
    for device, width in (("phone", 390), ("desktop", 1280)):
        driver.set_window_size(width, 844)
        visit(driver, url)
        axe_check(driver, f"{name} at {width} px")
        screenshot(driver, f"{name}-{device}")


def team_scan_pages(driver, args):
    """24 more scans make 27 in the team's table: 25 on its first page, the 2 oldest on the
    next (the phone's first scan among them), and a link back to the newest."""
    for _ in range(24):
        scan_from(args, args["desktopAddress"], MAC_SAFARI)
    visit(driver, f"{args['api']}/analytics")
    wait_until(driver, lambda: text_of(driver, "total-scans") == "26")
    wait_until(driver, lambda: len(rows(driver, "#scans tbody tr")) == 25)
    first_page = len(rows(driver, "#scans tbody tr"))
    follow(driver, "older-scans", "newest-scans")
    axe_check(driver, "the team's analytics, older scans")
    older = [td.get_attribute("textContent") for td in rows(driver, "#scans tbody td:nth-child(3)")]
    driver.find_element(By.ID, "newest-scans").click()
    wait_until(driver, lambda: len(rows(driver, "#scans tbody tr")) == 25)
    return dict(teamFirstPage=first_page, teamOlderCountries=sorted(older),
                teamNewestAgain=len(rows(driver, "#scans tbody tr")))


def main():
    args = arguments()
    driver = browser()
    try:
        dashboard = args["api"]
        code_url = f"{dashboard}/codes/{args['codeId']}"
        visit(driver, args["signInUrl"])
        submit(driver, button_id="continue")

        # From the code's page to its analytics: nothing yet.
        visit(driver, code_url)
        follow(driver, "code-analytics", "analytics-live")
        axe_check(driver, "a code's analytics, no scans")
        total_before = text_of(driver, "total-scans")
        check(rows(driver, "#no-scans"), "an empty scans table says so")

        # Scans at the edge; the page moves by itself.
        driver.execute_script("window.notReloaded = true")
        scan_from(args, args["phoneAddress"], IPHONE_SAFARI)
        scan_from(args, args["desktopAddress"], MAC_SAFARI)
        scan_from(args, args["phoneAddress"], GOOGLEBOT)
        wait_until(driver, lambda: text_of(driver, "total-scans") == "2")
        wait_until(driver, lambda: text_of(driver, "bot-scans") == "1")
        wait_until(driver, lambda: len(rows(driver, "#scans tbody tr")) == 3)
        wait_until(driver, lambda: len(breakdowns(driver)["country"]) == 2)
        not_reloaded = driver.execute_script("return window.notReloaded === true")
        announced = driver.find_element(By.ID, "live-announcement").get_attribute("textContent")
        seen = {
            "totalBefore": total_before, "notReloaded": not_reloaded, "announced": announced,
            "total": text_of(driver, "total-scans"), "today": text_of(driver, "today-scans"),
            "bots": text_of(driver, "bot-scans"),
            "dailyTotal": driver.find_element(By.ID, "daily-chart").get_attribute("data-total"),
            "todayTotal": driver.find_element(By.ID, "today-chart").get_attribute("data-total"),
            "dailyBars": len(rows(driver, "#daily-chart .bars rect")),
            "breakdowns": breakdowns(driver),
            # textContent: at a phone's width the column may be scrolled out of view.
            "scanKinds": [td.get_attribute("textContent")
                          for td in rows(driver, "#scans tbody td.kind")],
        }
        axe_check(driver, "a code's analytics, with scans")

        # The live fragment: 304 while nothing changes.
        live_url = driver.find_element(By.ID, "analytics-live").get_attribute("data-fragment-url")
        status, headers, _ = session_get(driver, live_url)
        seen["liveStatus"] = status
        unchanged, _, _ = session_get(driver, live_url, {"if-none-match": headers["etag"]})
        seen["unchangedStatus"] = unchanged

        # The range form: the last 7 days; a range that ends before it starts is refused.
        Select(driver.find_element(By.ID, "days")).select_by_value("7")
        submit(driver, button_id="show-span")
        seen["sevenDayBars"] = len(rows(driver, "#daily-chart .bars rect"))
        visit(driver, f"{code_url}/analytics?from=2026-01-10&to=2026-01-01", expected_status=400)
        seen["badRange"] = driver.find_element(By.CSS_SELECTOR, ".form-error").text
        take_screenshots(driver, f"{code_url}/analytics", "code-analytics")

        # The team's page, from the main navigation.
        visit(driver, code_url)
        follow(driver, "nav-analytics", "analytics-live")
        seen["teamTotal"] = text_of(driver, "total-scans")
        seen["topCodes"] = [a.text for a in rows(driver, "#top-codes tbody a")]
        seen["teamScans"] = sorted(
            " ".join(td.get_attribute("textContent") for td in row.find_elements(
                By.CSS_SELECTOR, "td.code, td.kind"))
            for row in rows(driver, "#scans tbody tr"))
        take_screenshots(driver, f"{dashboard}/analytics", "team-analytics")

        # Another team's code: not found, page and fragment.
        other = f"/codes/{args['otherTeamCodeId']}/analytics"
        visit(driver, dashboard + other, expected_status=404)
        seen["otherPage"] = driver.find_element(By.TAG_NAME, "h1").text
        seen["otherLive"] = session_get(driver, other + "/live")[0]
        seen.update(team_scan_pages(driver, args))
        report(**seen)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
