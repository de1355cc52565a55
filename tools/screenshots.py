"""Screenshots of the built documentation, as a reader sees it: serves the
site on 127.0.0.1 and has headless Chromium (Debian's `chromium`) draw each
page at a desktop width and a phone width. Not run by CI.

    mkdocs build --strict -d /tmp/site
    python tools/screenshots.py /tmp/site /tmp/shots [--pages api/layers/sru ...]
"""

import argparse
import functools
import http.server
import pathlib
import shutil
import subprocess
import threading

WIDTHS = {"desktop": 1400, "phone": 390}


def serve(site):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=site)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def shoot(url, path, width, height):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--window-size={width},{height}",
            f"--screenshot={path}",
            url,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("site")
    parser.add_argument("out")
    parser.add_argument("--pages", nargs="*", help="page paths, e.g. api/layers/sru")
    parser.add_argument("--height", type=int, default=2400)
    args = parser.parse_args()
    site, out = pathlib.Path(args.site), pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pages = args.pages or sorted(
        str(p.parent.relative_to(site)) for p in site.rglob("index.html")
    )
    server = serve(str(site))
    port = server.server_address[1]
    try:
        for page in pages:
            page = page.strip("/").replace(".", "") if page in (".", "") else page
            for kind, width in WIDTHS.items():
                name = (page or "home").replace("/", "_")
                shoot(
                    f"http://127.0.0.1:{port}/{page}/",
                    out / f"{name}-{kind}.png",
                    width,
                    args.height,
                )
                print(out / f"{name}-{kind}.png")
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
