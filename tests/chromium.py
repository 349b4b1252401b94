"""The report looked at in headless Chromium: every image decodes, no script error, and a screenshot."""

import json
import re
import shutil
import subprocess
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
PAGE_CHECK = """<script>
window.__errors = [];
window.addEventListener('error', function (e) { window.__errors.push(String(e.message || (e.target && e.target.src))); },
                        true);
var originalError = console.error;
console.error = function () { window.__errors.push(Array.from(arguments).join(' ')); originalError.apply(console, arguments); };
window.addEventListener('load', function () {
  var images = Array.from(document.images);
  var undecoded = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).map(function (i) { return i.alt; });
  var pre = document.createElement('pre'); pre.id = 'tuner-check';
  pre.textContent = JSON.stringify({images: images.length, undecoded: undecoded, errors: window.__errors});
  document.body.appendChild(pre);
});
</script>"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Debian's chromium is needed (.ci/run installs it)"
    return found


def check_page(report: Path, scratch: Path) -> dict:
    """Load the report in headless Chromium: {images, undecoded (their alt texts), errors}."""
    checked = scratch / "checked.html"
    checked.write_text(report.read_text().replace("<head>", "<head>" + PAGE_CHECK, 1))
    dom = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={scratch / 'profile'}",
                          "--virtual-time-budget=10000", "--dump-dom", checked.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="tuner-check">(.*?)</pre>', dom)
    assert found, "the page did not finish loading"
    return json.loads(found.group(1).replace("&quot;", '"'))


def screenshot(report: Path, shot: Path, scratch: Path, height: int = 7000) -> Path:
    subprocess.run([chromium(), *FLAGS, f"--user-data-dir={scratch / 'profile-shot'}", f"--window-size=1300,{height}",
                    f"--screenshot={shot}", report.as_uri()], capture_output=True, timeout=120)
    return shot
