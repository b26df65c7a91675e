"""Browser tests: Debian's Chromium driven by Playwright's sync API against a subprocess server."""
