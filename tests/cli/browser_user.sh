#!/bin/sh
# BROWSER for the CLI's end-to-end tests: Python's webbrowser runs `$BROWSER URL` and may wait
# for it to exit, so start the real-browser user (browser_user.py, which documents its
# environment) detached in its own session and return at once.  Its output goes to
# $BROWSER_LOG (appended) or nowhere.  $OAUTHKIT_TEST_PYTHON must be a Python with selenium.
log=${BROWSER_LOG:-/dev/null}
setsid "${OAUTHKIT_TEST_PYTHON:-python3}" "$(dirname "$0")/browser_user.py" "$1" \
  </dev/null >>"$log" 2>&1 &
exit 0
