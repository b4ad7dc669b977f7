"""Customer 360: the daily schedule as an Airflow DAG.

Copy this file into the DAGs folder of an Airflow (2.4+ or 3.x) deployment whose
workers can run the ``c360`` command (see deploy/README.md).  It runs the seed's
order every day at 02:00 UTC:

    extract       ``c360 extract``       Salesforce -> bronze, incremental on watermarks
    pipeline_run  ``c360 pipeline run``  bronze -> silver (incl. currency) -> gold ->
                                         history -> linking -> rules, published atomically

``c360 pipeline run`` is one atomic run; silver, currency conversion, linking,
gold and rules have no commands of their own, so they are not separate tasks
here.  Splitting them into schedule points would need new ``c360`` commands.

Retries are safe.  Extraction resumes from its watermarks (an object finished
before a failure keeps its batch; records read twice are deduplicated by silver).
The pipeline gets a fixed run id per scheduled day, ``daily-YYYYMMDD``, so a
retried or cleared task replaces that day's run rather than publishing a second
one.  The day is ``data_interval_end``: the date the 02:00 run fires on, in
Airflow 2 (cron data intervals) and 3 (cron trigger timetable) alike.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow import DAG

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

# Where Customer 360 is installed and where its layers live, for the workers.
C360_HOME = os.environ.get("C360_HOME", "/opt/customer360")
C360_ENV = {
    "PATH": f"{C360_HOME}/.venv/bin:/usr/local/bin:/usr/bin:/bin",
    "C360_DATA_DIR": os.environ.get("C360_DATA_DIR", "/srv/customer360/data"),
    "C360_CONFIG_DIR": os.environ.get("C360_CONFIG_DIR", "/etc/customer360"),
    # Salesforce credentials: a secrets file, never the repository (docs/salesforce.md)
    "C360_SF_SECRETS_FILE": os.environ.get("C360_SF_SECRETS_FILE", "/etc/customer360/salesforce.env"),
}

default_args = {
    "owner": "customer360",
    "retries": 3,
    "retry_delay": timedelta(minutes=10),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(hours=1),
}

with DAG(
    dag_id="customer360_daily",
    description="Customer 360: Salesforce extraction, then the atomic pipeline run",
    schedule="0 2 * * *",
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),  # noqa: UP017 - Airflow workers may run Python < 3.11
    catchup=False,  # each run reads whatever has landed: backfilling old days recomputes nothing new
    max_active_runs=1,  # one extraction per data directory at a time (it also takes a lock)
    default_args=default_args,
    tags=["customer360"],
) as dag:
    extract = BashOperator(
        task_id="extract",
        bash_command="c360 extract",
        env=C360_ENV,
        append_env=True,
        execution_timeout=timedelta(hours=3),
    )

    pipeline_run = BashOperator(
        task_id="pipeline_run",
        bash_command=(
            "c360 pipeline run"
            " --as-of {{ data_interval_end | ds }}"
            " --run-id daily-{{ data_interval_end | ds_nodash }}"
        ),
        env=C360_ENV,
        append_env=True,
        retries=2,
        execution_timeout=timedelta(hours=4),
    )

    extract >> pipeline_run
