from tests.browser.conftest import artifacts, browser
from tests.support.victoria import victoria

__all__ = ["artifacts", "browser", "victoria"]
