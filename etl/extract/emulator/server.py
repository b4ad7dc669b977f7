"""Serving the emulator on 127.0.0.1 over TLS, and the HTTP session that reaches it.

simple-salesforce always builds ``https://<something>.salesforce.com`` URLs
(login.salesforce.com, test.salesforce.com, the My Domain, the instance).
`EmulatorServer` serves real TLS with a throwaway CA made by ``trustme``;
`LoopbackAdapter`, mounted on the session it hands out, sends every
``https://*.salesforce.com`` request to the emulator's port on 127.0.0.1,
keeping the original host in the ``Host`` header, and refuses every other
URL.  The session ignores proxy variables, so nothing it sends can leave the
machine: a test that forgets to use it fails instead of reaching the internet.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import trustme
import uvicorn
from requests.adapters import HTTPAdapter

from etl.extract.emulator.app import Emulator, create_app


class LoopbackAdapter(HTTPAdapter):
    """Routes ``https://*.salesforce.com`` to ``https://127.0.0.1:<port>``; refuses anything else."""

    def __init__(self, port: int, **kwargs: Any):
        self.port = port
        super().__init__(**kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(request.url or "")
        host = (parts.hostname or "").lower()
        if parts.scheme != "https" or not (host == "salesforce.com" or host.endswith(".salesforce.com")):
            raise requests.exceptions.InvalidURL(
                f"the emulator session only routes https://*.salesforce.com to 127.0.0.1, not {parts.scheme}://{host}"
            )
        request.headers["Host"] = parts.netloc
        request.url = urlunsplit(("https", f"127.0.0.1:{self.port}", parts.path, parts.query, ""))
        kwargs["proxies"] = {}
        return super().send(request, **kwargs)


class EmulatorServer:
    """Runs `Emulator` under uvicorn in a background thread on a free 127.0.0.1 port."""

    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self._tmp = tempfile.TemporaryDirectory(prefix="c360-sf-emulator-")
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        tmp = Path(self._tmp.name)
        self.ca_path = tmp / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        self._cert = tmp / "server.pem"
        self._key = tmp / "server.key"
        cert.cert_chain_pems[0].write_to_path(str(self._cert))
        for extra in cert.cert_chain_pems[1:]:
            extra.write_to_path(str(self._cert), append=True)
        cert.private_key_pem.write_to_path(str(self._key))
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when proto says TCP,
        # and without it every keep-alive response waits ~40 ms for a delayed ACK.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.app = create_app(emulator)
        config = uvicorn.Config(
            self.app,
            ssl_certfile=str(self._cert),
            ssl_keyfile=str(self._key),
            log_config=None,
            log_level="critical",  # an injected dropped connection is logged as an app error otherwise
            access_log=False,
            date_header=False,  # the Gateway sends the emulator clock's Date
            server_header=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self) -> EmulatorServer:
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True, name="sf-emulator")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the Salesforce emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._sock.close()
        self._tmp.cleanup()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def swap(self, emulator: Emulator) -> Emulator:
        """Serve another emulated org from the same server (tests share one server)."""
        self.emulator = emulator
        self.app.state.emulator = emulator
        return emulator

    @property
    def instance_url(self) -> str:
        return f"https://{self.emulator.instance_host}"

    def session(self) -> requests.Session:
        """A fresh `requests.Session` whose every request ends at this emulator."""
        return loopback_session(self.port, self.ca_path)


def loopback_session(port: int, ca_path: Path) -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # no proxies, no netrc, no REQUESTS_CA_BUNDLE from the environment
    s.verify = str(ca_path)
    adapter = LoopbackAdapter(port)
    s.mount("https://", adapter)
    s.mount("http://", adapter)
    return s
