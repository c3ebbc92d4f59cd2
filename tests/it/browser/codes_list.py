"""The codes list's type and tag filters in a real browser: the owner picks a type and types a
tag, sees only the matching codes (their count, the filters in force), pages on with the filters
kept, then clears them and sees every code again. Every page: no console error, no CSP
violation, no serious accessibility finding."""

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from common import (_stale, arguments, axe_check, browser, check, check_console, fill, report,
                    submit, visit)


def click_through(driver, link_id):
    """Clicks a link and waits for the next page (the same page's elements have the same ids)."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, link_id).click()
    WebDriverWait(driver, 15).until(lambda d: _stale(old))
    check_console(driver)


def listed(driver):
    """The names on the page, and the list's caption ("N codes")."""
    names = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "#codes tbody td:first-child a")]
    caption = driver.find_element(By.CSS_SELECTOR, "#codes caption").text
    return names, caption


def main():
    args = arguments()
    driver = browser(width=1280, height=900)
    try:
        visit(driver, args["signInUrl"])
        submit(driver, button_id="continue")
        visit(driver, args["api"] + "/codes")
        Select(driver.find_element(By.ID, "qrType")).select_by_value("SHORT_LINK")
        fill(driver, "tag", "Promo")
        Select(driver.find_element(By.ID, "sortBy")).select_by_value("name")
        Select(driver.find_element(By.ID, "sortOrder")).select_by_value("asc")
        submit(driver, "codes-filters")
        axe_check(driver, "the filtered codes list")
        first_names, first_caption = listed(driver)
        active = driver.find_element(By.ID, "active-filters").text
        click_through(driver, "next-page")
        second_names, second_caption = listed(driver)
        kept = [Select(driver.find_element(By.ID, "qrType")).first_selected_option.get_attribute("value"),
                driver.find_element(By.ID, "tag").get_attribute("value"),
                Select(driver.find_element(By.ID, "sortBy")).first_selected_option.get_attribute("value")]
        click_through(driver, "clear-filters")
        cleared_names, cleared_caption = listed(driver)
        check(not driver.find_elements(By.ID, "active-filters"), "no filter shown once cleared")
        report(firstNames=first_names, firstCaption=first_caption, active=active,
               secondNames=second_names, secondCaption=second_caption, kept=kept,
               clearedCaption=cleared_caption, clearedFirst=cleared_names[0],
               clearedUrl=driver.current_url)
    finally:
        driver.quit()


main()
