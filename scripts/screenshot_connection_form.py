"""Screenshot Airflow 3's "Add Connection" dialog for a Bombora connection (docs/connection-form.png).

Run on demand, not in CI. It

1. creates a throwaway AIRFLOW_HOME (sqlite), runs ``airflow db migrate`` and starts
   ``airflow api-server`` on a free port of 127.0.0.1, with the SimpleAuthManager's
   ``[core] simple_auth_manager_all_admins`` so that the browser is an admin without logging in,
   and no example DAGs; every ``AIRFLOW*`` variable of the calling environment is dropped, so
   that no real metadata database or configuration is touched;
2. drives Airflow's own UI in headless Chromium: Admin -> Connections -> Add Connection,
   connection type "Bombora", Connection ID ``bombora_default``; checks that the form shows
   the provider's relabelled standard fields (with their placeholders), hides the fields the
   provider hides and shows the provider's ``conn-fields`` under "Extra Fields", all read from
   ``airflow_provider_bombora.get_provider_info()``; it fails with a clear message otherwise,
   so this is also a check that Airflow's UI renders the provider's form;
3. saves the screenshot: the dialog with "Standard Fields" open, and below it the "Extra
   Fields" section opened (the dialog opens one section at a time, so these are two states of
   the same dialog, stacked in one PNG);
4. stops the API server and removes the AIRFLOW_HOME, whatever happens.

One-time setup (neither is a dependency of the project)::

    apt-get install -y chromium          # Debian's Chromium, /usr/bin/chromium
    .venv/bin/pip install playwright     # the Python driver only; never `playwright install`

Usage::

    .venv/bin/python scripts/screenshot_connection_form.py [--output docs/connection-form.png]

Exit status: 0 with the PNG written, 1 when the form is not what the provider declares (a debug
screenshot of the page is kept in the system's temporary directory), 2 when the setup is
missing or Airflow does not start.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "docs" / "connection-form.png"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CONN_TYPE = "bombora"
CONN_ID = "bombora_default"
# The flags this machine's notes give for a headless Chromium on a closed network.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SETUP_HINT = """One-time setup for this script (not dependencies of the project):
    apt-get install -y chromium
    .venv/bin/pip install playwright
(Do not run `playwright install`: the script uses the system's Chromium.)"""


class FormCheckError(Exception):
    """The UI does not show the form the provider declares."""


class SetupError(Exception):
    """Missing tool, or Airflow did not start."""


def _log(message: str) -> None:
    print(f"[screenshot] {message}", flush=True)


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _expected_form() -> dict:
    """What the provider declares for its connection type, from ``get_provider_info()``."""
    sys.path.insert(0, str(REPO_ROOT))
    from airflow_provider_bombora import get_provider_info

    info = get_provider_info()
    (conn,) = [c for c in info["connection-types"] if c["connection-type"] == CONN_TYPE]
    behaviour = conn.get("ui-field-behaviour", {})
    return {
        "hook_name": conn["hook-name"],
        "hidden": list(behaviour.get("hidden-fields", [])),
        "relabeling": dict(behaviour.get("relabeling", {})),
        "placeholders": dict(behaviour.get("placeholders", {})),
        "conn_fields": {key: spec["label"] for key, spec in conn.get("conn-fields", {}).items()},
    }


def _airflow_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    (home / "dags").mkdir()
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _migrate(env: dict[str, str], home: Path) -> None:
    _log("airflow db migrate (throwaway sqlite database)")
    log = home / "db-migrate.log"
    with log.open("wb") as out:
        rc = subprocess.call(
            [sys.executable, "-m", "airflow", "db", "migrate"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    if rc != 0:
        raise SetupError(f"`airflow db migrate` failed (exit {rc}):\n{_tail(log)}")


def _start_api_server(env: dict[str, str], home: Path, port: int) -> tuple[subprocess.Popen, Path]:
    log = home / "api-server.log"
    _log(f"starting airflow api-server on http://127.0.0.1:{port}")
    out = log.open("wb")
    try:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "airflow", "api-server",
                "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so that its workers stop with it
        )
    finally:
        out.close()
    return proc, log


def _wait_until_answers(proc: subprocess.Popen, log: Path, base_url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    url = f"{base_url}/api/v2/monitor/health"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SetupError(f"airflow api-server exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise SetupError(f"airflow api-server did not answer {url} within {timeout:.0f} s:\n{_tail(log)}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    _log("stopping airflow api-server")
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_stable(locator, tries: int = 40) -> None:
    """Wait until an element's box stops moving (dialog and accordion animations)."""
    last = None
    for _ in range(tries):
        box = locator.bounding_box()
        if box is not None and box == last:
            return
        last = box
        locator.page.wait_for_timeout(100)


def _label_texts(scope) -> list[str]:
    """The visible labels in ``scope``, without the required-field asterisk."""
    texts = (
        " ".join(label.inner_text().split()).rstrip(" *")
        for label in scope.locator("label").all()
        if label.is_visible()
    )
    return [text for text in texts if text]


def _drive_ui(pw, chromium: str, base_url: str, expected: dict, debug_png: Path) -> tuple[bytes, bytes]:
    browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1000}, reduced_motion="reduce")
        page.set_default_timeout(30_000)
        try:
            return _fill_and_check(page, base_url, expected)
        except Exception:
            try:
                page.screenshot(path=str(debug_png), full_page=True)
                _log(f"debug screenshot of the page: {debug_png}")
            except Exception:  # noqa: BLE001 - the original error matters more
                pass
            raise
    finally:
        browser.close()


def _fill_and_check(page, base_url: str, expected: dict) -> tuple[bytes, bytes]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    _log("opening the UI: Admin -> Connections -> Add Connection")
    page.goto(f"{base_url}/", wait_until="networkidle")
    admin_menu = page.get_by_role("button", name="Admin")
    try:
        admin_menu.wait_for(timeout=60_000)  # the React app renders after its bundle loads
    except PlaywrightTimeout:
        raise FormCheckError(
            f"the UI shows no Admin menu within 60 s (page at {page.url}): no admin session without "
            "login? (is [core] simple_auth_manager_all_admins honoured by this Airflow?)"
        ) from None
    admin_menu.click()
    page.get_by_role("menuitem", name="Connections").click()
    page.wait_for_url(f"{base_url}/connections*")
    page.get_by_role("button", name="Add Connection").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    _wait_stable(dialog)

    dialog.locator("input[name=connection_id]").fill(CONN_ID)
    hook_name = expected["hook_name"]
    _log(f'connection type "{hook_name}", Connection ID {CONN_ID}')
    combo = dialog.get_by_role("combobox")
    combo.click()
    combo.fill(hook_name)
    try:
        page.get_by_role("option", name=hook_name, exact=True).click(timeout=10_000)
    except PlaywrightTimeout:
        offered = page.get_by_role("option").all_inner_texts()
        raise FormCheckError(
            f'connection type "{hook_name}" is not offered by the Add Connection dialog '
            f"(options for {hook_name!r}: {offered}); is the provider installed in {sys.prefix}?"
        ) from None

    # --- Standard fields: relabelled, with placeholders; the hidden ones absent.
    dialog.get_by_role("button", name="Standard Fields", exact=True).wait_for()
    standard_names = ["host", "login", "password", "port", "schema"]
    page.wait_for_timeout(300)
    _wait_stable(dialog)
    problems = []
    for field in standard_names:
        inputs = dialog.locator(f"input[name={field}]")
        if field in expected["hidden"]:
            if inputs.count():
                problems.append(f"standard field {field!r} is declared hidden but is shown")
            continue
        title = expected["relabeling"].get(field)
        if title is None:
            continue
        by_label = dialog.get_by_label(title, exact=True)
        if by_label.count() != 1 or not by_label.is_visible():
            problems.append(f"label {title!r} (relabelled {field!r}) is not shown; labels: {_label_texts(dialog)}")
            continue
        if by_label.get_attribute("name") != field:
            problems.append(f"label {title!r} is on field {by_label.get_attribute('name')!r}, not {field!r}")
        placeholder = expected["placeholders"].get(field)
        if placeholder is not None and by_label.get_attribute("placeholder") != placeholder:
            problems.append(
                f"field {title!r}: placeholder {by_label.get_attribute('placeholder')!r}, expected {placeholder!r}"
            )
    if problems:
        raise FormCheckError(
            "Standard Fields differ from the provider's ui-field-behaviour:\n  " + "\n  ".join(problems)
        )
    _log(f"Standard Fields shown: {_label_texts(dialog)}")
    page.evaluate("document.activeElement && document.activeElement.blur()")  # no focus ring in the picture
    _wait_stable(dialog)
    standard_png = dialog.screenshot()

    # --- Extra fields (conn-fields): one section open at a time, so open "Extra Fields".
    extra_trigger = dialog.get_by_role("button", name="Extra Fields", exact=True)
    if extra_trigger.count() == 0:
        raise FormCheckError('the dialog has no "Extra Fields" section: the provider\'s conn-fields are not rendered')
    extra_trigger.click()
    extra_item = dialog.locator('[data-scope="accordion"][data-part="item"]').filter(
        has=page.get_by_role("button", name="Extra Fields", exact=True)
    )
    page.wait_for_timeout(300)
    _wait_stable(extra_item)
    shown = _label_texts(extra_item)
    for key, label in expected["conn_fields"].items():
        if label not in shown:
            problems.append(f"conn-field {key!r}: label {label!r} is not shown")
        elif not extra_item.locator(f"[name=element_{key}]").count():
            problems.append(f"conn-field {key!r}: label {label!r} is shown but its input element_{key} is not")
    if problems:
        raise FormCheckError(
            "Extra Fields differ from the provider's conn-fields:\n  "
            + "\n  ".join(problems)
            + f"\n  labels shown: {shown}"
        )
    _log(f"Extra Fields shown: {shown}")
    extra_png = extra_item.screenshot()
    return standard_png, extra_png


def _compose(pw, chromium: str, standard_png: bytes, extra_png: bytes, output: Path) -> None:
    """Stack the two states of the dialog into one PNG (rendered by the same Chromium)."""

    def data_url(png: bytes) -> str:
        return "data:image/png;base64," + base64.b64encode(png).decode("ascii")

    html = f"""<!doctype html><html><head><style>
      html, body {{ margin: 0; background: #e9ecef; font: 14px/1.4 sans-serif; color: #495057; }}
      #sheet {{ display: inline-block; padding: 16px; }}
      img {{ display: block; border-radius: 8px; box-shadow: 0 1px 4px rgba(0,0,0,.25); background: #fff; }}
      p {{ margin: 14px 4px 8px; }}
    </style></head><body><div id="sheet">
      <img src="{data_url(standard_png)}" alt="Add Connection, Standard Fields">
      <p>The same dialog with the &ldquo;Extra Fields&rdquo; section opened:</p>
      <img src="{data_url(extra_png)}" alt="Extra Fields">
    </div></body></html>"""
    browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
    try:
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.set_content(html, wait_until="load")
        output.parent.mkdir(parents=True, exist_ok=True)
        page.locator("#sheet").screenshot(path=str(output))
    finally:
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"PNG to write (default {DEFAULT_OUTPUT})")
    parser.add_argument("--chromium", default=DEFAULT_CHROMIUM, help=f"Chromium binary (default {DEFAULT_CHROMIUM})")
    parser.add_argument("--startup-timeout", type=float, default=120.0, help="seconds to wait for the API server")
    args = parser.parse_args(argv)

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print(f"error: the Python package playwright is not installed in {sys.prefix}.\n{SETUP_HINT}", file=sys.stderr)
        return 2
    if not (os.path.isfile(args.chromium) and os.access(args.chromium, os.X_OK)):
        print(f"error: no Chromium at {args.chromium}.\n{SETUP_HINT}", file=sys.stderr)
        return 2
    if shutil.which("airflow", path=str(Path(sys.executable).parent)) is None:
        _log(f"note: no `airflow` script beside {sys.executable}; using `{sys.executable} -m airflow`")

    expected = _expected_form()
    output = args.output.resolve()

    # SIGTERM (and SIGHUP) unwind like Ctrl-C, so that the finally blocks clean up.
    def _raise_interrupt(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)

    home = Path(tempfile.mkdtemp(prefix="bombora-screenshot-airflow-home-"))
    debug_png = Path(tempfile.gettempdir()) / "bombora-connection-form-failed.png"
    proc = None
    try:
        env = _airflow_env(home)
        _migrate(env, home)
        port = _free_loopback_port()
        base_url = f"http://127.0.0.1:{port}"
        proc, log = _start_api_server(env, home, port)
        _wait_until_answers(proc, log, base_url, args.startup_timeout)
        _log("api-server answers")
        with sync_playwright() as pw:
            standard_png, extra_png = _drive_ui(pw, args.chromium, base_url, expected, debug_png)
            _compose(pw, args.chromium, standard_png, extra_png, output)
        _log(f"wrote {output}")
        return 0
    except FormCheckError as exc:
        print(
            f"error: Airflow's Add Connection form does not show the Bombora fields as declared:\n{exc}",
            file=sys.stderr,
        )
        return 1
    except SetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(home, ignore_errors=True)
        _log(f"removed {home}")


if __name__ == "__main__":
    sys.exit(main())
