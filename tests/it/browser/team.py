"""The team pages in a real browser: the owner saves the team's settings (a save over someone
else's newer change is refused and changes nothing) and switches teams; adds a member, changes
their role, pauses and reactivates them (a change
drawn before someone else's is refused and changes nothing); makes an API key whose token works once shown (and is
not shown again, not even on a reload, which makes no second key), then revokes it (a revoke
of a stale version is refused); adds a custom domain and sees its CNAME and an orphan scan
on it (and its removal refused while a code uses it); makes a template whose preview loads,
then deletes it. Forms without their token are refused. A viewer sees no edit control and their
forged posts are refused; another team's admin reaches none of the first team's data. Every
page: no console error, no CSP violation; every team page passes axe-core, and the members and
domains pages are saved as screenshots at a phone's width and a desktop's."""

import time
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from common import (_stale, api, arguments, axe_check, browser, check, check_console, csrf_of,
                    fill, http, report, screenshot, session_post, submit, text_of, visit)


def get_with_cookies(driver, path):
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    base = "/".join(driver.current_url.split("/", 3)[:3])
    return http("GET", base + path, {"cookie": cookies})


def sign_in(driver, link):
    visit(driver, link)
    submit(driver, button_id="continue")


def members(args):
    status, team = api(args, "GET", f"/api/teams-api/{args['teamId']}")
    check(status == 200, f"the team answered {status}")
    return team["data"]["members"]


def row(driver, email):
    return driver.find_element(By.CSS_SELECTOR, f"#members tr[data-email='{email}']")


def settings_part(driver, args):
    dashboard = args["api"]
    visit(driver, dashboard + "/team")
    axe_check(driver, "the team settings")
    fill(driver, "team-name", "Team <i>One</i>")
    fill(driver, "time-zone", "Europe/Berlin")
    fill(driver, "primary-color", "#1F6FEB")
    submit(driver, "team-settings")
    saved = [driver.find_element(By.ID, f).get_attribute("value")
             for f in ("team-name", "time-zone", "primary-color")]
    # Someone else renames the team while the form is open: the save is refused.
    status, _ = api(args, "PUT", f"/api/teams-api/{args['teamId']}", {"name": "Renamed elsewhere"})
    check(status == 200, f"the rename answered {status}")
    fill(driver, "team-name", "My stale name")
    submit(driver, "team-settings", expected_status=412)
    stale_status = stale_post_status(driver)
    stale_message = text_of(driver, "refusal")
    _, team = api(args, "GET", f"/api/teams-api/{args['teamId']}")
    # The switcher: the owner is in both teams; a team that is not theirs is unknown.
    visit(driver, dashboard + "/team")
    forged_switch = session_post(driver, "/team/switch",
                                 {"csrf": csrf_of(driver), "team": "team_nobodys"})[0]
    Select(driver.find_element(By.ID, "switch-team")).select_by_visible_text(args["otherTeamName"])
    submit(driver, "team-switcher")
    switched_to = driver.find_element(By.CSS_SELECTOR, "header.top span.muted").text
    Select(driver.find_element(By.ID, "switch-team")).select_by_value(args["teamId"])
    submit(driver, "team-switcher")
    return dict(savedSettings=saved, staleStatus=stale_status, staleMessage=stale_message,
                nameAfterStale=team["data"]["name"], switchedTo=switched_to,
                forgedSwitch=forged_switch)


def stale_post_status(driver):
    """The status of a save with a version older than the one the refusal's page shows (which
    is the team's current one): what the refused save was answered with."""
    version = driver.find_element(By.CSS_SELECTOR, "input[name=version]").get_attribute("value")
    fields = {"csrf": csrf_of(driver), "version": str(int(version) - 1), "name": "Stale again",
              "timeZone": "UTC", "primaryColor": ""}
    return session_post(driver, "/team", fields)[0]


def members_part(driver, args):
    dashboard = args["api"]
    visit(driver, dashboard + "/team/members")
    fill(driver, "member-name", "Ada <b>Lovelace</b>")
    fill(driver, "member-email", "Ada@Example.com")
    Select(driver.find_element(By.ID, "member-role")).select_by_value("editor")
    submit(driver, "add-member")
    added_role = row(driver, "ada@example.com").find_element(By.CLASS_NAME, "role").text
    ada = row(driver, "ada@example.com")
    Select(ada.find_element(By.TAG_NAME, "select")).select_by_value("admin")
    click(driver, ada.find_element(By.CSS_SELECTOR, "button[value=role]"))
    changed_role = row(driver, "ada@example.com").find_element(By.CLASS_NAME, "role").text
    click(driver, row(driver, "ada@example.com").find_element(By.CSS_SELECTOR, "button[value=pause]"))
    paused = row(driver, "ada@example.com").find_element(By.CLASS_NAME, "status").text
    click(driver, row(driver, "ada@example.com").find_element(
        By.CSS_SELECTOR, "button[value=activate]"))
    activated = row(driver, "ada@example.com").find_element(By.CLASS_NAME, "status").text
    stale = stale_member_change(driver, args)
    # Bad input: the API's message, nothing added.
    before = len(members(args))
    fill(driver, "member-name", "Bad")
    fill(driver, "member-email", "not-an-email")
    click(driver, driver.find_element(By.ID, "add-member-button"), expected_status=400)
    bad_email = [400 if len(members(args)) == before else "added", text_of(driver, "refusal")]
    axe_check(driver, "the members page")
    take_screenshots(driver, dashboard + "/team/members", "team-members")
    return dict(addedRole=added_role, changedRole=changed_role, pausedStatus=paused,
                activatedStatus=activated, badEmail=bad_email, **stale)


def stale_member_change(driver, args):
    """Ada's role is changed through the API while the page is open: the page's change (drawn
    before it) is refused and changes nothing; the page then shows her as she is, and a change
    from it works."""
    visit(driver, args["api"] + "/team/members")
    status, _ = api(args, "PUT", f"/api/teams-api/{args['teamId']}/members/role",
                    {"email": "ada@example.com", "role": "editor"})
    check(status == 200, f"the API's role change answered {status}")
    ada = row(driver, "ada@example.com")
    Select(ada.find_element(By.TAG_NAME, "select")).select_by_value("viewer")
    click(driver, ada.find_element(By.CSS_SELECTOR, "button[value=role]"), expected_status=412)
    refused = text_of(driver, "refusal")
    role_after = [m["role"] for m in members(args) if m["email"] == "ada@example.com"]
    shown_after = row(driver, "ada@example.com").find_element(By.CLASS_NAME, "role").text
    ada = row(driver, "ada@example.com")
    Select(ada.find_element(By.TAG_NAME, "select")).select_by_value("admin")
    click(driver, ada.find_element(By.CSS_SELECTOR, "button[value=role]"))
    redrawn = row(driver, "ada@example.com").find_element(By.CLASS_NAME, "role").text
    return dict(staleMemberMessage=refused, staleMemberRole=role_after,
                staleMemberShown=shown_after, redrawnRole=redrawn)


def take_screenshots(driver, url, name):
    """The page at a phone's width and a desktop's, each checked by axe-core, then the window
    as it was."""
    size = driver.get_window_size()
    for device, width in (("phone", 390), ("desktop", 1280)):
        driver.set_window_size(width, 844)
        visit(driver, url)
        axe_check(driver, f"{name} at {width} px")
        screenshot(driver, f"{name}-{device}")
    driver.set_window_size(size["width"], size["height"])


def click(driver, button, expected_status=None):
    """Clicks a button and waits for the page it leads to."""
    old = driver.find_element(By.TAG_NAME, "html")
    button.click()
    WebDriverWait(driver, 15).until(lambda d: _stale(old))
    check_console(driver, expected_status)


def with_token(args, token, path):
    headers = {"authorization": f"Bearer {token}", "x-request-team-id": args["teamId"]}
    return http("GET", args["api"] + path, headers)[0]


def keys_part(driver, args):
    dashboard = args["api"]
    visit(driver, dashboard + "/team/keys")
    axe_check(driver, "the keys page")
    fill(driver, "key-name", "deploy script")
    driver.find_element(By.CSS_SELECTOR, "input[name='scope:codes:read']").click()
    submit(driver, "create-key")
    after_create = driver.current_url
    token = driver.find_element(By.ID, "new-key-token").get_attribute("value")
    check("." in token, f"a token: {token!r}")
    axe_check(driver, "the keys page with a new token")
    works = with_token(args, token, "/api/qrs-api")
    secret = token.split(".", 1)[1]
    # A reload asks for the list again: no second key, and the token is gone.
    driver.refresh()
    check_console(driver)
    reloaded = dict(
        shownOnReload=bool(driver.find_elements(By.ID, "new-key")) or secret in driver.page_source,
        keysAfterReload=len(driver.find_elements(By.XPATH, "//*[@id='keys']//td[1][text()='deploy script']")))
    visit(driver, dashboard + "/team/keys")
    shown_again = bool(driver.find_elements(By.ID, "new-key")) or secret in driver.page_source
    client_id = token.split(".", 1)[0]
    # A revoke of a version the key is not at is refused, and the key still works.
    stale_revoke = session_post(driver, f"/team/keys/{client_id}/revoke",
                                {"csrf": csrf_of(driver), "version": "999"})[0]
    works_after_stale = with_token(args, token, "/api/qrs-api")
    click(driver, driver.find_element(
        By.CSS_SELECTOR, f"#keys tr[data-client-id='{client_id}'] button"))
    return dict(tokenWorks=works, tokenShownAgain=shown_again, afterCreate=after_create,
                staleRevoke=stale_revoke, worksAfterStaleRevoke=works_after_stale,
                tokenAfterRevoke=with_token(args, token, "/api/qrs-api"),
                twoTabs=keys_made_at_once(driver, args), **reloaded)


def keys_made_at_once(driver, args):
    """Two keys made in two tabs before either tab follows its redirect: each redirect then
    shows its own key's token, which works. [(name on the token's row, status with it)] each."""
    visit(driver, args["api"] + "/team/keys")
    csrf = csrf_of(driver)
    redirects = []
    for name in ("tab one", "tab two"):
        status, headers, _ = session_post(driver, "/team/keys",
                                          {"csrf": csrf, "name": name, "scope:codes:read": "on"})
        check(status == 303, f"the creation redirects: {status}")
        redirects.append(headers["location"])
    shown = []
    for location in redirects:
        visit(driver, args["api"] + location)
        token = driver.find_element(By.ID, "new-key-token").get_attribute("value")
        row = driver.find_element(
            By.CSS_SELECTOR, f"#keys tr[data-client-id='{token.split('.', 1)[0]}'] td")
        shown.append([row.text, with_token(args, token, "/api/qrs-api")])
    return shown


def domains_part(driver, args):
    dashboard = args["api"]
    domain = args["domain"]
    visit(driver, dashboard + "/team/domains")
    fill(driver, "domain", domain.upper())
    submit(driver, "add-domain")
    record = driver.find_element(
        By.CSS_SELECTOR, f"#domains tr[data-domain='{domain}'] .dns-record").text
    axe_check(driver, "the domains page")
    take_screenshots(driver, dashboard + "/team/domains", "team-domains")
    # A scan of an unknown code on it is an orphan scan, on the orphans page.
    status, _, _ = http("GET", f"{args['edge']}/typo", {"host": domain})
    check(status in (302, 404), f"the orphan scan answered {status}")
    orphan_total = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        visit(driver, dashboard + "/team/orphans")
        orphan_total = text_of(driver, "orphan-total")
        if orphan_total == "1":
            break
        time.sleep(0.5)
    axe_check(driver, "the orphan scans page")
    # A live code on the domain: its removal is refused with the API's message.
    status, _ = api(args, "POST", "/api/qrs-api", {
        "qrType": "WEB", "qrRedirectUrl": "https://example.com/on-domain",
        "baseUrl": f"http://{domain}/"})
    check(status == 201, f"a code on the domain answered {status}")
    visit(driver, dashboard + "/team/domains")
    click(driver, driver.find_element(
        By.CSS_SELECTOR, f"#domains tr[data-domain='{domain}'] button"), expected_status=409)
    return dict(dnsRecord=record, orphanTotal=orphan_total,
                removeRefused=text_of(driver, "refusal"))


def templates_part(driver, args):
    dashboard = args["api"]
    visit(driver, dashboard + "/team/templates")
    fill(driver, "template-name", "Brand <b>blue</b>")
    fill(driver, "foreground", "#123456")
    submit(driver, "create-template")
    axe_check(driver, "the templates page")
    card = driver.find_element(By.XPATH, "//li[h2[text()='Brand <b>blue</b>']]")
    template_id = card.get_attribute("data-template")
    image = card.find_element(By.TAG_NAME, "img")
    loaded = driver.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0", image)
    save_preview(driver, template_id, args["previewPng"])
    # Kept for the other team's admin to try, then deleted below.
    return template_id, dict(previewLoaded=loaded)


def save_preview(driver, template_id, path):
    """Saves the preview the page shows (a refusal raises)."""
    cookies = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    base = "/".join(driver.current_url.split("/", 3)[:3])
    request = urllib.request.Request(f"{base}/team/templates/{template_id}/preview.png",
                                     headers={"cookie": cookies})
    with urllib.request.urlopen(request, timeout=30) as response, open(path, "wb") as f:
        f.write(response.read())


def delete_template(driver, args, template_id):
    visit(driver, args["api"] + "/team/templates")
    click(driver, driver.find_element(
        By.CSS_SELECTOR, f"li[data-template='{template_id}'] button"))
    return not driver.find_elements(By.CSS_SELECTOR, f"li[data-template='{template_id}']")


def csrf_part(driver, args):
    visit(driver, args["api"] + "/team/members")
    before = len(members(args))
    fields = {"name": "Forged", "email": "forged@example.com", "role": "admin"}
    no_token = session_post(driver, "/team/members/add", fields)[0]
    wrong_token = session_post(driver, "/team/members/add", dict(fields, csrf="x" * 43))[0]
    return dict(noToken=no_token, wrongToken=wrong_token,
                membersAfterForgeries=len(members(args)) - before)


def viewer_part(driver, args):
    dashboard = args["api"]
    controls = 0
    for path in ("/team", "/team/members", "/team/domains", "/team/templates"):
        visit(driver, dashboard + path)
        controls += len(driver.find_elements(
            By.CSS_SELECTOR, "#team-settings, #add-member, #add-domain, #create-template, "
                             "main form[method=post]"))
    token = csrf_of(driver)
    before_members, before_domains = members(args), team_domains(args)
    forged = {
        "settings": session_post(driver, "/team", {
            "csrf": token, "version": "1", "name": "Forged", "timeZone": "UTC",
            "primaryColor": ""})[0],
        "add": session_post(driver, "/team/members/add", {
            "csrf": token, "name": "Forged", "email": "forged@example.com", "role": "admin"})[0],
        "role": session_post(driver, "/team/members/change", {
            "csrf": token, "version": "1", "email": "ada@example.com",
            "change": "role", "role": "viewer"})[0],
        "domain": session_post(driver, "/team/domains/add", {
            "csrf": token, "domain": "forged.example.test"})[0],
        "template": session_post(driver, "/team/templates", {
            "csrf": token, "name": "Forged"})[0],
    }
    unchanged = members(args) == before_members and team_domains(args) == before_domains
    return dict(viewerControls=controls, viewerForged=forged, viewerChangedNothing=unchanged)


def team_domains(args):
    _, team = api(args, "GET", f"/api/teams-api/{args['teamId']}")
    return team["data"]["domains"]


def other_team_part(driver, args, template_id):
    dashboard = args["api"]
    visit(driver, dashboard + "/team")
    shown = driver.find_element(By.ID, "team-name").get_attribute("value")
    seen_first = False
    for path in ("/team/members", "/team/domains", "/team/templates", "/team/orphans",
                 "/team/keys"):
        visit(driver, dashboard + path)
        source = driver.page_source
        seen_first |= any(t in source for t in (
            "ada@example.com", args["viewerEmail"], args["domain"], "Brand", "Renamed"))
    token = csrf_of(driver)
    return dict(
        otherTeamShown=shown, otherSeesFirstTeam=seen_first,
        otherPreview=get_with_cookies(driver, f"/team/templates/{template_id}/preview.png")[0],
        otherSwitch=session_post(driver, "/team/switch",
                                 {"csrf": token, "team": args["teamId"]})[0],
        otherChange=session_post(driver, "/team/members/change", {
            "csrf": token, "version": "1", "email": "ada@example.com",
            "change": "remove"})[0])


def removal_part(owner, viewer, args):
    """The owner removes the viewer on the members page: the viewer's open session ends."""
    visit(owner, args["api"] + "/team/members")
    click(owner, row(owner, args["viewerEmail"]).find_element(
        By.CSS_SELECTOR, "button[value=remove]"))
    still_listed = bool(owner.find_elements(
        By.CSS_SELECTOR, f"#members tr[data-email='{args['viewerEmail']}']"))
    visit(viewer, args["api"] + "/team")
    return dict(viewerStillListed=still_listed, viewerAfterRemoval=viewer.current_url)


def as_member(link, part, *extra):
    """`part` in a browser of its own, signed in with `link`."""
    driver = browser(1280, 900)
    try:
        sign_in(driver, link)
        return part(driver, *extra)
    finally:
        driver.quit()


def main():
    args = arguments()
    owner = browser(1280, 900)
    try:
        sign_in(owner, args["signInUrl"])
        seen = settings_part(owner, args)
        seen.update(members_part(owner, args))
        seen.update(keys_part(owner, args))
        seen.update(domains_part(owner, args))
        template_id, templates = templates_part(owner, args)
        seen.update(templates)
        seen.update(csrf_part(owner, args))
        viewer = browser(1280, 900)
        try:
            sign_in(viewer, args["viewerSignInUrl"])
            seen.update(viewer_part(viewer, args))
            seen.update(as_member(args["otherSignInUrl"], other_team_part, args, template_id))
            seen.update(templateDeleted=delete_template(owner, args, template_id))
            seen.update(removal_part(owner, viewer, args))
        finally:
            viewer.quit()
        report(**seen)
    finally:
        owner.quit()


if __name__ == "__main__":
    main()
