"""The image's healthcheck: healthy while something answers HTTP on $PORT (any status: the mock, a proxy)."""

import os
import sys
import urllib.error
import urllib.request

try:
    urllib.request.urlopen(f"http://127.0.0.1:{os.environ.get('PORT', '8080')}/openapi.yaml", timeout=3)
except urllib.error.HTTPError:
    pass  # an answer all the same: the server is up
except OSError as exc:
    print(f"unhealthy: {exc}")
    sys.exit(1)
