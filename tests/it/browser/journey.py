"""The core journey in a real browser: sign in with the first start's one-time link, set a
password, sign out, sign in with it (a wrong one refused); create a WEB code in the form (a bad
URL first: the API's message next to the field, nothing created); its QR image shows; a phone
scans it on the edge and the code's page shows 1 scan without a reload; edit its target and the
edge serves the new one. Every page: no console error, no CSP violation."""

from selenium.webdriver.common.by import By

from common import (api, arguments, axe_check, browser, check, check_console, fill, follow, report,
                    scan, scan_until, screenshot, submit, text_of, visit, wait_for_text)

PASSWORD = "a long enough password"


def take_screenshots(driver, dashboard):
    """The main pages at a phone's width and a desktop's, each checked by axe-core."""
    code_page = driver.find_element(By.CSS_SELECTOR, "#codes tbody a").get_attribute("href")
    for device, width in (("phone", 390), ("desktop", 1280)):
        driver.set_window_size(width, 844)
        visit(driver, dashboard + "/codes")
        axe_check(driver, f"codes at {width} px")
        screenshot(driver, f"codes-{device}")
        driver.set_window_size(width, 844)
        visit(driver, code_page)
        axe_check(driver, f"code at {width} px")
        screenshot(driver, f"code-{device}")
        driver.set_window_size(width, 844)
        visit(driver, dashboard + "/codes/new")
        axe_check(driver, f"new-code at {width} px")
        screenshot(driver, f"new-code-{device}")


def main():
    args = arguments()
    driver = browser()
    try:
        dashboard = args["api"]
        # The link signs in once, and asks for a password.
        visit(driver, args["signInUrl"])
        axe_check(driver, "the sign-in link's page")
        submit(driver, button_id="continue")
        check(driver.current_url == dashboard + "/account/password", f"after the link: {driver.current_url}")
        axe_check(driver, "the password form")
        fill(driver, "password", PASSWORD)
        fill(driver, "confirmation", PASSWORD)
        submit(driver, button_id="save-password")
        check(driver.current_url == dashboard + "/codes", f"after the password: {driver.current_url}")

        # Sign out; the link is spent; a wrong password is refused; the right one signs in.
        submit(driver, button_id="sign-out")
        check(driver.current_url == dashboard + "/sign-in", f"after sign-out: {driver.current_url}")
        visit(driver, dashboard + "/codes")
        check(driver.current_url == dashboard + "/sign-in", "signed out: /codes leads to sign-in")
        visit(driver, args["signInUrl"])
        submit(driver, button_id="continue", expected_status=400)
        link_spent = "used already" in driver.page_source
        visit(driver, dashboard + "/sign-in")
        axe_check(driver, "the sign-in form")
        fill(driver, "email", args["email"])
        fill(driver, "password", PASSWORD + "!")
        submit(driver, form_id="sign-in-form", expected_status=401)
        wrong_refused = text_of(driver, "sign-in-error")
        fill(driver, "password", PASSWORD)
        submit(driver, form_id="sign-in-form")
        check(driver.current_url == dashboard + "/codes", f"after sign-in: {driver.current_url}")

        # A bad URL: the API's message beside the field, nothing created.
        follow(driver, "new-code", "code-form")
        fill(driver, "name", "Spring <b>launch</b>")
        fill(driver, "qrRedirectUrl", "javascript:alert(1)")
        submit(driver, button_id="save-code", expected_status=400)
        url_error = text_of(driver, "qrRedirectUrl-error")
        axe_check(driver, "the code form with an error")
        _, listed = api(args, "GET", "/api/qrs-api")
        codes_after_refusal = listed["data"]["totalCount"]

        # The code is made; its page shows its image and 0 scans.
        fill(driver, "qrRedirectUrl", "https://example.com/spring")
        fill(driver, "displayId", args["displayId"])
        submit(driver, button_id="save-code")
        title = driver.find_element(By.TAG_NAME, "h1").text
        short_url = text_of(driver, "short-url")
        image = driver.find_element(By.ID, "qr-image")
        image_loaded = driver.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", image)
        image.screenshot(args["imagePng"])
        counts_before = text_of(driver, "total-scans")

        # A phone scans it; the page moves to 1 by itself.
        driver.execute_script("window.notReloaded = true")
        first_target = scan(args, args["displayId"])
        wait_for_text(driver, "total-scans", "1")
        check(driver.execute_script("return window.notReloaded === true"), "the page was reloaded")
        today_after_scan = text_of(driver, "today-scans")
        check_console(driver)

        # Edit the target.
        follow(driver, "edit-code", "code-form")
        fill(driver, "qrRedirectUrl", "https://example.com/summer")
        submit(driver, button_id="save-code")
        target_shown = text_of(driver, "target")
        served_after_edit = scan_until(args, args["displayId"], "https://example.com/summer")

        # The list finds it by search.
        visit(driver, dashboard + "/codes?search=spring")
        listed_names = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "#codes tbody a")]
        take_screenshots(driver, dashboard)

        report(linkSpent=link_spent, wrongPassword=wrong_refused, urlError=url_error,
               codesAfterRefusal=codes_after_refusal, title=title, shortUrl=short_url,
               imageLoaded=image_loaded, countsBefore=counts_before, firstTarget=first_target,
               todayAfterScan=today_after_scan, targetShown=target_shown,
               servedAfterEdit=served_after_edit,
               listedNames=listed_names)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
