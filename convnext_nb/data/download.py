"""Fetching dataset files from the network: one reachability probe, one checked download.

`fetch` streams into a unique temporary file beside the target (`utils.atomic_write`),
checks its md5, and only then renames it, so a broken or interrupted download never passes
for the file. Every socket gets its own timeout: this module must not change global socket
state, and must not unpack or parse what it fetched (the dataset modules do).
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import urllib.parse
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from ..utils import atomic_write


class DatasetNotFoundError(RuntimeError):
    """The dataset is not on disk and could not be fetched; the message says what to do."""


def host_reachable(url: str, timeout: float = 3.0) -> bool:
    """Can we open a TCP connection to the url's host (or its proxy) within `timeout` seconds?

    The probe runs in a daemon thread so that a stalled DNS lookup (which ignores socket
    timeouts) cannot hold the caller longer than `timeout` either.
    """
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    reached, done = [], threading.Event()

    def probe() -> None:
        try:
            socket.create_connection((parts.hostname, port), timeout=timeout).close()
            reached.append(True)
        except OSError:
            pass
        finally:
            done.set()

    threading.Thread(target=probe, daemon=True).start()
    done.wait(timeout)  # a refused or unresolvable host answers at once
    return bool(reached)


def fetch(url: str, path: str | os.PathLike, md5: str, timeout: float = 30.0) -> Path:
    """Download `url` to `path` with a progress bar; md5-checked before it gets its name.

    A connection that stalls for `timeout` seconds fails. On any error (and on Ctrl-C) the
    partial file is deleted; an md5 mismatch raises OSError naming both checksums.
    """

    def download(part: Path) -> None:  # into a temporary file that gets `path`'s name at the end
        digest = hashlib.md5()
        with open(part, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=Path(path).name) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if digest.hexdigest() != md5:
            raise OSError(f"{url} gave a file with md5 {digest.hexdigest()}, expected {md5}")

    return atomic_write(path, download)  # on any error or Ctrl-C no partial file stays
