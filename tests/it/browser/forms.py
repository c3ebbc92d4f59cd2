"""Every QR type and setting through the code form, in a real browser: sign in with the first
start's link; create a code of each of the twelve types in its form (lists grown with their
"Add a row" buttons, no script of ours needed), each read back through the API and scanned on
the edge; bad input refused with the API's message next to the field (a `javascript:` URL in a
list row, a missing required field); an edit keeps every field; a duplicate; a CSV import with
one bad line, and one of which nothing can be imported. The live preview of the code's image
follows the template chosen; an expiry emptied in the form is removed (the code is served
again) and "Default" removes a template; the preview route refuses another team's template or
code and bad input. axe-core checks the forms and the import page, which are photographed at a
phone's and a desktop's width. Every page: no console error, no CSP violation."""

import os
import tempfile
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from common import (IPHONE_SAFARI, _stale, api, arguments, axe_check, browser, check, check_console,
                    fill, follow, http, report, screenshot, session_get, submit,
                    text_of, visit)

PASSWORD = "a long enough password"
SCREEN_WIDTHS = (("phone", 390), ("desktop", 1280))


def photograph(driver, name):
    """The whole page from its top, nothing focused, at each width: NAME-phone, NAME-desktop."""
    driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
    for device, width in SCREEN_WIDTHS:
        driver.set_window_size(width, 844)
        screenshot(driver, f"{name}-{device}")
    driver.set_window_size(390, 844)
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"

# Per type: the form's fields (by id, which is the request path) and the lists to grow first.
# Values set by script are those of date and time inputs, whose typing depends on the locale.
CODES = {
    "WEB": {
        "name": "Web <i>launch</i>",
        "qrRedirectUrl": "https://example.com/web",
        "displayId": "forms-web",
        "tags": "spring, print",
        "templateId": "forest",
        "expiryDate": "2030-01-01T00:00",
        "settings.redirectStatus": "307",
        "settings.maxScans": "100",
        "settings.maxScansUrl": "https://example.com/used-up",
        "settings.expiredUrl": "https://example.com/expired",
        "settings.forwardQuery": "no",
        "settings.rules[0].url": "https://example.com/ios",
        "settings.rules[0].os": "ios",
        "+settings.rules": None,
        "settings.rules[1].url": "https://example.com/night",
        "settings.rules[1].devices": "tablet",
        "settings.rules[1].weekdays": "fri, sat",
        "settings.rules[1].fromTime": "22:00",
        "settings.rules[1].toTime": "06:00",
        "settings.rules[1].timeZone": "Europe/Berlin",
        "settings.abSplit[0].url": "https://example.com/a",
        "settings.abSplit[0].weight": "1",
        "+settings.abSplit": None,
        "settings.abSplit[1].url": "https://example.com/b",
        "settings.abSplit[1].weight": "3",
    },
    "SHORT_LINK": {
        "name": "Short",
        "qrRedirectUrl": "https://example.com/short",
        "displayId": "forms-short",
        "settings.password": "open sesame",
    },
    "MULTI_LOCALE": {
        "displayId": "forms-locale",
        "settings.urls[0].locale": "en",
        "settings.urls[0].url": "https://example.com/en",
        "+settings.urls": None,
        "settings.urls[1].locale": "de",
        "settings.urls[1].url": "https://example.com/de",
        "settings.defaultLocale": "en",
    },
    "APP_DOWNLOAD": {
        "displayId": "forms-app",
        "settings.iosUrl": "https://apps.apple.com/app/acme/id123456789",
        "settings.androidUrl": "https://play.google.com/store/apps/details?id=com.acme.app",
        "settings.appName": "Acme app",
    },
    "PDF": {
        "displayId": "forms-pdf",
        "settings.pdfUrl": "https://example.com/spring.pdf",
        "settings.title": "Spring <b>catalogue</b>",
        "settings.description": "All 48 pages.\nIn colour.",
        "settings.fileName": "spring.pdf",
    },
    "VCARD": {
        "displayId": "forms-vcard",
        "settings.firstName": "Jane",
        "settings.lastName": "Doe",
        "settings.phones[0].type": "work",
        "settings.phones[0].number": "+41 44 668 18 00",
        "settings.emails[0].address": "jane.doe@example.com",
        "settings.address.city": "Zürich",
    },
    "LINK_LIST": {
        "displayId": "forms-links",
        "settings.title": "Acme Coffee",
        "settings.links[0].title": "Order online",
        "settings.links[0].url": "https://shop.example.com/",
        "+settings.links": None,
        "settings.links[1].title": "Opening hours",
        "settings.links[1].url": "https://example.com/hours",
    },
    "COUPON_CODE": {
        "displayId": "forms-coupon",
        "settings.code": "SPRING25",
        "settings.discount": "25% off",
        "settings.validUntil": "2030-06-30",
        "settings.terms": "One per customer.",
    },
    "IMAGE_GALLERY": {
        "displayId": "forms-gallery",
        "settings.title": "Our showroom",
        "settings.images[0].url": "https://example.com/1.jpg",
        "settings.images[0].caption": "The entrance",
    },
    "SOCIAL_BIO": {
        "displayId": "forms-bio",
        "settings.name": "Jane Bio",
        "settings.links[0].network": "instagram",
        "settings.links[0].url": "https://instagram.com/janedoe",
    },
    "VIDEO_PREVIEW": {
        "displayId": "forms-video",
        "settings.videoUrl": "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "settings.title": "Two minutes",
    },
    "RESTAURANT_MENU": {
        "displayId": "forms-menu",
        "settings.name": "Trattoria Roma",
        "settings.currency": "CHF",
        "settings.sections[0].name": "Pizze",
        "settings.sections[0].items[0].name": "Margherita",
        "settings.sections[0].items[0].price": "18.5",
        "settings.sections[0].items[0].tags": "vegetarian",
        "+settings.sections[0].items": None,
        "settings.sections[0].items[1].name": "Diavola",
        "settings.sections[0].items[1].price": "22",
    },
}


def set_field(driver, field_id, value):
    """Types into a text input or area, picks an option of a select; date and time inputs get
    their value by script (typing into them depends on the browser's locale)."""
    element = driver.find_element(By.ID, field_id)
    kind = element.get_attribute("type")
    if element.tag_name == "select":
        element.find_element(By.CSS_SELECTOR, f"option[value='{value}']").click()
    elif kind in ("date", "time", "datetime-local"):
        driver.execute_script("arguments[0].value = arguments[1]", element, value)
    else:
        fill(driver, field_id, value)


def add_row(driver, list_path):
    """Presses a list's "Add a row" button: the form comes back with one more row."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, f"button[name=add][value='{list_path}']").click()
    WebDriverWait(driver, 15).until(lambda d: _stale(old))
    check_console(driver)


def fill_form(driver, fields):
    for field_id, value in fields.items():
        if field_id.startswith("+"):
            add_row(driver, field_id[1:])
        else:
            set_field(driver, field_id, value)


def code_id(driver):
    return driver.current_url.rstrip("/").rsplit("/", 1)[1]


def create(driver, dashboard, qr_type, fields):
    """The code of `qr_type` made through its form; its id."""
    visit(driver, dashboard + "/codes/new")
    follow(driver, f"type-{qr_type}", "code-form")
    check(driver.find_element(By.TAG_NAME, "h1").text == f"New {qr_type} code", "the type's form")
    fill_form(driver, fields)
    submit(driver, button_id="save-code")
    check("/edit" not in driver.current_url and "/new" not in driver.current_url,
          f"{qr_type} was not saved: {driver.page_source[:3000]}")
    return code_id(driver)


def edge_answer(args, display_id, headers):
    """(status, location, body) of a scan; a code just made may take the edge a moment."""
    deadline = time.monotonic() + 10
    while True:
        status, answer_headers, body = http("GET", f"{args['edge']}/{display_id}", headers)
        if status != 404 or time.monotonic() > deadline:
            return [status, answer_headers.get("location"), body]
        time.sleep(0.1)


def edge_answer_until(args, display_id, status):
    """The edge's answer once it is `status` (an edit reaching it), or the last after 10 s."""
    deadline = time.monotonic() + 10
    while True:
        answer = edge_answer(args, display_id, {})
        if answer[0] == status or time.monotonic() > deadline:
            return answer[:2]
        time.sleep(0.1)


def refusals(driver, dashboard):
    """Bad input: each refusal's text beside its field, and no code made."""
    seen = {}
    visit(driver, dashboard + "/codes/new?type=PDF")
    set_field(driver, "settings.title", "No file")
    submit(driver, button_id="save-code", expected_status=400)
    seen["missing"] = text_of(driver, "settings.pdfUrl-error")
    seen["missingKept"] = driver.find_element(By.ID, "settings.title").get_attribute("value")

    visit(driver, dashboard + "/codes/new?type=LINK_LIST")
    fill_form(driver, {"settings.links[0].title": "Fine", "settings.links[0].url": "https://example.com",
                       "+settings.links": None, "settings.links[1].title": "Evil",
                       "settings.links[1].url": "javascript:alert(1)"})
    submit(driver, button_id="save-code", expected_status=400)
    seen["badUrl"] = text_of(driver, "settings.links[1].url-error")
    seen["badUrlKept"] = driver.find_element(By.ID, "settings.links[1].url").get_attribute("value")

    visit(driver, dashboard + "/codes/new?type=WEB")
    fill_form(driver, {"qrRedirectUrl": "https://example.com", "settings.abSplit[0].url": "https://example.com/a",
                       "settings.abSplit[0].weight": "1"})
    submit(driver, button_id="save-code", expected_status=400)
    seen["oneVariant"] = text_of(driver, "settings.abSplit-error")
    return seen


def edit_keeps_fields(driver, dashboard, args, codes):
    """The menu's form shows every stored field; saved with a new name, the rest is unchanged.
    The WEB code's edit keeps its password-less settings; the short link loses its password."""
    menu = codes["RESTAURANT_MENU"]["id"]
    visit(driver, f"{dashboard}/codes/{menu}/edit")
    shown = driver.find_element(By.ID, "settings.sections[0].items[1].name").get_attribute("value")
    fill(driver, "name", "Renamed menu")
    submit(driver, button_id="save-code")
    _, after = api(args, "GET", f"/api/qrs-api/{menu}")

    short = codes["SHORT_LINK"]["id"]
    visit(driver, f"{dashboard}/codes/{short}/edit")
    driver.find_element(By.ID, "clearPassword").click()
    submit(driver, button_id="save-code")
    _, unprotected = api(args, "GET", f"/api/qrs-api/{short}")
    return {"shownDish": shown, "menuAfterEdit": after["data"],
            "shortAfterEdit": unprotected["data"]}


def duplicate(driver, dashboard, args, codes):
    original = codes["LINK_LIST"]["id"]
    visit(driver, f"{dashboard}/codes/{original}/edit")
    submit(driver, button_id="duplicate-code")
    copy = code_id(driver)
    _, body = api(args, "GET", f"/api/qrs-api/{copy}")
    return body["data"]


def import_csv(driver, dashboard, lines, expected_status=None):
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    try:
        visit(driver, dashboard + "/codes/new")
        follow(driver, "import-link", "import-form")
        driver.find_element(By.ID, "file").send_keys(f.name)
        submit(driver, button_id="import-codes", expected_status=expected_status)
    finally:
        os.unlink(f.name)
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in driver.find_elements(By.CSS_SELECTOR, "#refused-lines tbody tr")]
    return rows


def preview_shows(driver, template_id):
    """Waits until the preview image is the one of `template_id` and has loaded; the image."""
    image = driver.find_element(By.ID, "qr-preview-image")
    WebDriverWait(driver, 15).until(lambda d: driver.execute_script(
        "const i = arguments[0]; return i.complete && i.naturalWidth > 0 && "
        "new URL(i.src).searchParams.get('templateId') === arguments[1]", image, template_id))
    check_console(driver)
    return image


def preview_and_expiry(driver, dashboard, args):
    """An expired code's edit form: its preview (saved as a PNG for zbar), then the template
    changed to navy (the preview follows, saved again) and the expiry emptied; saved, the API
    shows no expiry (nor the max scans emptied too) and the edge serves it again. A second edit picks "Default": no template."""
    _, made = api(args, "POST", "/api/qrs-api", {
        "qrType": "WEB", "qrRedirectUrl": "https://example.com/back", "displayId": "forms-expired",
        "templateId": "forest", "expiryDate": 1000, "settings": {"maxScans": 5}})
    code = made["data"]["id"]
    expired_status = edge_answer(args, "forms-expired", {})[0]
    visit(driver, f"{dashboard}/codes/{code}/edit")
    axe_check(driver, "an edit form")
    preview_shows(driver, "forest").screenshot(args["previewPng"])
    set_field(driver, "templateId", "navy")
    preview_shows(driver, "navy").screenshot(args["previewNavyPng"])
    caption = text_of(driver, "qr-preview-caption")
    photograph(driver, "edit-code")
    set_field(driver, "expiryDate", "")
    set_field(driver, "settings.maxScans", "")
    submit(driver, button_id="save-code")
    _, saved = api(args, "GET", f"/api/qrs-api/{code}")
    served = edge_answer_until(args, "forms-expired", 302)

    visit(driver, f"{dashboard}/codes/{code}/edit")
    set_field(driver, "templateId", "")
    submit(driver, button_id="save-code")
    _, default = api(args, "GET", f"/api/qrs-api/{code}")
    return {"expiredStatus": expired_status, "caption": caption,
            "saved": saved["data"], "served": served,
            "defaultTemplate": default["data"]["templateId"]}


def preview_refusals(driver, args):
    """The preview route as a forged or careless request would use it: (status, type) each."""
    answers = {}
    asked = {
        "own": "?templateId=navy&displayId=forms-own",
        "otherTemplate": f"?templateId={args['otherTemplateId']}",
        "otherCode": f"?code={args['otherCodeId']}",
        "longTemplate": "?templateId=" + "t" * 65,
        "badPath": "?displayId=a%20b",
        "unknownField": "?size=4096",
    }
    for name, query in asked.items():
        status, headers, _ = session_get(driver, "/codes/preview.svg" + query)
        answers[name] = [status, headers.get("content-type", "").split(";")[0]]
    return answers


def accessible_forms(driver, dashboard):
    """axe-core on the new-code form of several types (one with nested lists)."""
    for qr_type in ("WEB", "VCARD", "LINK_LIST", "RESTAURANT_MENU"):
        visit(driver, f"{dashboard}/codes/new?type={qr_type}")
        axe_check(driver, f"the new {qr_type} form")


def preview_drawn(driver, path):
    """Waits until the preview image is drawn for the short link path `path`."""
    WebDriverWait(driver, 15).until(lambda d: driver.execute_script(
        "const i = document.getElementById('qr-preview-image'); return i.complete && "
        "i.naturalWidth > 0 && new URL(i.src).searchParams.get('displayId') === arguments[0]",
        path))


def new_form_preview(driver, dashboard):
    """A new code's preview follows its short link path as typed: the caption's URL. Paths the
    API refuses (reserved, a dot first, an escaped slash) are not asked for: no console error."""
    visit(driver, dashboard + "/codes/new?type=WEB")
    before = text_of(driver, "qr-preview-url")
    for refused in ("healthz", "Robots.txt", ".hidden", "a%2Fb"):
        fill(driver, "displayId", refused)
        time.sleep(0.5)  # past the script's typing pause, so that it would have asked
    fill(driver, "displayId", "typed-path")
    preview_drawn(driver, "typed-path")
    check_console(driver)
    return {"before": before, "after": text_of(driver, "qr-preview-url")}


def main():
    args = arguments()
    driver = browser()
    try:
        dashboard = args["api"]
        visit(driver, args["signInUrl"])
        submit(driver, button_id="continue")
        fill(driver, "password", PASSWORD)
        fill(driver, "confirmation", PASSWORD)
        submit(driver, button_id="save-password")

        refused = refusals(driver, dashboard)
        _, listed = api(args, "GET", "/api/qrs-api")
        codes_after_refusals = listed["data"]["totalCount"]

        codes, edge = {}, {}
        for qr_type, fields in CODES.items():
            qr_id = create(driver, dashboard, qr_type, fields)
            _, body = api(args, "GET", f"/api/qrs-api/{qr_id}")
            codes[qr_type] = body["data"]
            edge[qr_type] = edge_answer(args, fields["displayId"],
                                        {"user-agent": IPHONE_SAFARI, "accept-language": "de-CH"})
        edge["WEB_desktop"] = edge_answer(args, "forms-web", {"user-agent": DESKTOP})

        edited = edit_keeps_fields(driver, dashboard, args, codes)
        copy = duplicate(driver, dashboard, args, codes)

        previewed = preview_and_expiry(driver, dashboard, args)
        preview_refused = preview_refusals(driver, args)
        new_preview = new_form_preview(driver, dashboard)
        accessible_forms(driver, dashboard)

        imported_refused = import_csv(driver, dashboard, [
            "displayId,url,type,name",
            "csv-one,https://example.com/one,WEB,One",
            "csv-bad,javascript:alert(1),WEB,Bad",
        ])
        import_result = text_of(driver, "import-result")
        axe_check(driver, "the import page with a refused line")
        photograph(driver, "import-refused")
        none_refused = import_csv(driver, dashboard, [
            "displayId,url,type,name",
            "csv-worse,ftp://example.com/x,WEB,Worse",
        ], expected_status=400)
        import_error = text_of(driver, "import-error")
        _, imported = api(args, "GET", "/api/qrs-api?search=csv")

        report(refused=refused, codesAfterRefusals=codes_after_refusals, codes=codes, edge=edge,
               edited=edited, copy=copy, importResult=import_result,
               importRefused=imported_refused, importError=import_error,
               noneRefused=none_refused, previewed=previewed, previewRefused=preview_refused,
               newPreview=new_preview,
               importedIds=sorted(q["displayId"] for q in imported["data"]["qrs"]))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
