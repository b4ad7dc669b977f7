"""A local Salesforce emulator for tests and benchmarks (never used in production).

It lives in the package rather than under tests/ because `bench_extract`
(called by ``make bench``) serves a bronze data set from it too; nothing in
the extraction path imports it.  Needs starlette, uvicorn and trustme.

    emu = Emulator(frames={"Account": df}, auth=Auth(password="...", security_token="..."))
    with EmulatorServer(emu) as server:
        run_extract(options, credentials, session=server.session())
"""

from etl.extract.emulator.app import Auth, Emulator, Fault, create_app
from etl.extract.emulator.org import Org, sf_datetime
from etl.extract.emulator.server import EmulatorServer, LoopbackAdapter, loopback_session
from etl.extract.emulator.soql import Query, SoqlError, parse

__all__ = [
    "Auth",
    "Emulator",
    "EmulatorServer",
    "Fault",
    "LoopbackAdapter",
    "Org",
    "Query",
    "SoqlError",
    "create_app",
    "loopback_session",
    "parse",
    "sf_datetime",
]
