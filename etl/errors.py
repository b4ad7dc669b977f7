"""Errors the pipeline raises on purpose.

C360Error
 ├── ConfigError   a configuration file or setting is invalid: nothing was written
 ├── DataError     input data cannot be read at all (a whole file, not a row:
 │   │             bad rows go to quarantine instead), or a data directory is
 │   │             not in a state the command can work on
 │   └── NothingPublished  no published run yet (the CLI exits 1, as for `c360 status`)
 └── EngineError   the engine asked for cannot be reached or started (a Dask
                   scheduler, the `dask` extra): nothing was written
"""


class C360Error(Exception):
    """Base class: the CLI prints these as one clear line and exits non-zero."""


class ConfigError(C360Error):
    def __init__(self, file: str, key: str, problem: str):
        self.file, self.key, self.problem = file, key, problem
        super().__init__(f"{file}: {key}: {problem}")


class DataError(C360Error):
    pass


class NothingPublished(DataError):
    pass


class EngineError(C360Error):
    pass
