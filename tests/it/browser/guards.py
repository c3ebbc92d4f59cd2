"""What the dashboard refuses, in a real browser: another team's code is not reachable by URL
(404); a form posted without its CSRF token, or with a wrong one, is refused (403) and changes
nothing; a viewer sees no edit control, and the edits they forge with their own session and
token are refused (403); a member removed from the team is signed out at their next request."""

from selenium.webdriver.common.by import By

from common import (api, arguments, browser, check, csrf_of, http, report, session_post, submit,
                    visit)


def code_count(args):
    status, listed = api(args, "GET", "/api/qrs-api")
    check(status == 200, f"the API's list answered {status}")
    return listed["data"]["totalCount"]


def get_with_cookies(driver, path):
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    base = "/".join(driver.current_url.split("/", 3)[:3])
    return http("GET", base + path, {"cookie": cookies})


def owner_part(driver, args):
    dashboard = args["api"]
    visit(driver, args["signInUrl"])
    submit(driver, button_id="continue")
    check(driver.current_url.startswith(dashboard), "signed in")
    # Another team's code, by URL: as unknown as a missing one.
    other = args["otherTeamCodeId"]
    visit(driver, f"{dashboard}/codes/{other}", expected_status=404)
    other_page = driver.find_element(By.TAG_NAME, "h1").text
    other_image = get_with_cookies(driver, f"/codes/{other}/image.svg")[0]
    other_counts = get_with_cookies(driver, f"/codes/{other}/counts")[0]
    # Forms without their token, or with another, change nothing.
    before = code_count(args)
    fields = {"name": "forged", "qrRedirectUrl": "https://forged.example/"}
    no_token = session_post(driver, "/codes/new", fields)[0]
    wrong_token = session_post(driver, "/codes/new", dict(fields, csrf="x" * 43))[0]
    sign_out_without_token = session_post(driver, "/sign-out", {})[0]
    visit(driver, f"{dashboard}/codes")
    still_signed_in = driver.current_url == f"{dashboard}/codes"
    return dict(otherPage=other_page, otherImage=other_image, otherCounts=other_counts,
                noToken=no_token, wrongToken=wrong_token,
                signOutWithoutToken=sign_out_without_token, stillSignedIn=still_signed_in,
                codesAfterForgeries=code_count(args) - before)


def viewer_part(driver, args):
    dashboard = args["api"]
    code = args["ownCodeId"]
    visit(driver, args["viewerSignInUrl"])
    submit(driver, button_id="continue")
    visit(driver, f"{dashboard}/codes")
    controls_on_list = len(driver.find_elements(By.ID, "new-code"))
    visit(driver, f"{dashboard}/codes/{code}")
    controls_on_code = len(driver.find_elements(By.CSS_SELECTOR, "#edit-code, #delete-code"))
    token = csrf_of(driver)
    visit(driver, f"{dashboard}/codes/new", expected_status=403)
    new_form_status = get_with_cookies(driver, "/codes/new")[0]
    before = code_count(args)
    forged = {
        "create": session_post(driver, "/codes/new", {
            "csrf": token, "name": "forged", "qrRedirectUrl": "https://forged.example/"})[0],
        "edit": session_post(driver, f"/codes/{code}/edit", {
            "csrf": token, "name": "forged", "qrRedirectUrl": "https://forged.example/"})[0],
        "delete": session_post(driver, f"/codes/{code}/delete", {"csrf": token})[0],
    }
    _, stored = api(args, "GET", f"/api/qrs-api/{code}")
    # Removed from the team: the next request ends the session.
    status, _ = api(args, "DELETE",
                    f"/api/teams-api/{args['teamId']}/members?email={args['viewerEmail']}")
    check(status == 200, f"removing the viewer answered {status}")
    visit(driver, f"{dashboard}/codes")
    after_removal = driver.current_url
    return dict(controlsOnList=controls_on_list, controlsOnCode=controls_on_code,
                newFormStatus=new_form_status, forged=forged,
                codesAfterViewer=code_count(args) - before,
                storedAfterViewer=[stored["data"]["qrRedirectUrl"], stored["data"]["deleted"]],
                afterRemoval=after_removal)


def main():
    args = arguments()
    driver = browser()
    try:
        seen = owner_part(driver, args)
        driver.delete_all_cookies()
        seen.update(viewer_part(driver, args))
        report(**seen)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
