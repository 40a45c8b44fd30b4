"""Airflow DAG example: Knack -> PostgREST -> Socrata / ArcGIS Online with the `aks` image.

One `aks sync` task per app, every 30 minutes. `aks sync` refreshes the app's metadata, then per
container loads Knack -> PostgREST and (only when that succeeded) publishes to the container's
Socrata dataset and ArcGIS Online layer. Each stage reads from its own watermark, kept in the staging
store (`api.knack_sync_state`), so this DAG computes no date: a failed stage keeps its watermark and
the next run re-publishes what it missed; a stage with no watermark yet is a full load (a safe
replace, or an upsert of everything for a dataset marked `no_replace_socrata`). All of an app's
containers share one Knack client, so the app never gets more than 10 requests per second.

An app whose containers are copied into another Knack app (`knack_destinations` in the config, see
KNACK_DESTINATIONS below) gets that app's credentials too: its `aks sync` runs records-to-knack for
those containers after their staging load, refreshing the destination container's staged rows first
so a record is never created twice. There is no separate records-to-knack task any more.

A second DAG, `knack_services_verify`, runs `aks status --verify` per app once a day: it exits 3 when
a destination is out of step with the staging store, which fails the task and alerts (a plain
`aks sync` repairs it: it re-publishes what a destination lacks).

A third DAG, `knack_services_extras`, keeps daily CSV snapshots of the public datasets
(`aks backup-socrata`, BACKUPS below), so a bad publish can be undone.

Finer tasks are still possible: `aks records-to-postgrest|records-to-socrata|records-to-agol -a APP
-c CONTAINER -e ENV` (without `-d`) run one stage of one container; they record their watermark too,
so they mix with `aks sync`. See deploy/README.md.

Secrets are never written here. Each is rendered at run time from an Airflow connection, and each
is masked wherever Airflow shows it (logs, the "Rendered Template" view):

    knack_<app>   login = Knack app id,          password = Knack API key    (KNACK_API_KEY,
                  or KNACK_APP_ID_DEST / KNACK_API_KEY_DEST for a destination app)
    aks_pgrest    the PostgREST URL (see endpoint_url), password = PostgREST JWT (PGREST_JWT)
    aks_socrata   login = API key id, password = API key secret, extra {"app_token": "..."}
    aks_agol      login = AGOL username,         password = AGOL password    (AGOL_PASSWORD)
    aks_s3        login = AWS access key id, password = AWS secret key, extra {"region": "..."}

How each is covered: a connection's password is registered with Airflow's secrets masker when the
template reads it, so KNACK_API_KEY, KNACK_API_KEY_DEST, PGREST_JWT, SOCRATA_API_KEY_SECRET,
AGOL_PASSWORD and AWS_SECRET_ACCESS_KEY are masked by value; the extra `app_token` is masked because its name is a sensitive one ("token"). The
Socrata key id (a login) is masked because the environment key it lands in, SOCRATA_API_KEY_ID,
contains "api_key"; the AWS key id likewise (AWS_ACCESS_KEY_ID contains "access_key").
Nothing secret is kept in Variables: `aks_image` (e.g.
"atddocker/aks:production"), `aks_env` ("prod" or "dev") and `aks_backup_to`
("s3://bucket/prefix") are plain settings.

Each task runs the `aks` image (DockerOperator) unless AKS_DAG_RUNNER=local (see RUNNER below).
Exit 0 is a successful task; 1, 2 and 3 each fail it.

crates/aks-cli/tests/airflow_dag.rs checks all of this in a real Airflow: it loads this file with
Airflow's own DagBag (production's DockerOperator), and runs the DAGs with `airflow dags test` and
AKS_DAG_RUNNER=local against fake services: successful syncs, exit 1 and exit 3 failing their
task, a URI-defined `aks_pgrest`, and no secret shown.
"""

import os
import shlex
from datetime import datetime, timedelta

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

# How each task runs `aks`, read where the DAG is parsed (scheduler, DAG processor and workers
# alike, so set it on all of them):
#   AKS_DAG_RUNNER=docker (the default, production): the image of the Variable `aks_image`, with
#       DockerOperator; nothing of the worker's environment reaches the container.
#   AKS_DAG_RUNNER=local: the `aks` binary at AKS_DAG_BIN (default: `aks` on the PATH) on the
#       worker itself, with BashOperator, for a development Airflow without Docker, and for the
#       test that runs this DAG (crates/aks-cli/tests/airflow_dag.rs). The worker's environment is
#       inherited (AKS_CONFIG, RUST_LOG, ...), then the credentials below are set over it.
# Both fail a task on any non-zero exit of `aks` (1, 2 and 3 alike) and on nothing else.
RUNNER = os.environ.get("AKS_DAG_RUNNER", "docker")
if RUNNER not in ("docker", "local"):
    raise ValueError("AKS_DAG_RUNNER must be docker or local, not %r" % RUNNER)
if RUNNER == "docker":
    from airflow.providers.docker.operators.docker import DockerOperator
else:
    try:  # Airflow 3 (the standard provider)
        from airflow.providers.standard.operators.bash import BashOperator
    except ImportError:  # Airflow 2
        from airflow.operators.bash import BashOperator
AKS_BIN = os.environ.get("AKS_DAG_BIN", "aks")

# The apps to sync and the connection holding each one's Knack credentials. The containers of
# each app are those of the config baked into the image (knack.toml).
APPS = {
    "data-tracker": "knack_data_tracker",
    "signs-markings": "knack_signs_markings",
}

# Apps whose containers are copied into another Knack app (`knack_destinations` in knack.toml), and
# the connection of that destination app: `aks sync` of the app needs its id and key. One
# destination app per app (KNACK_API_KEY_DEST holds one key).
KNACK_DESTINATIONS = {
    "data-tracker": "knack_smart_mobility",
}



def endpoint_url(conn):
    """The full URL of a service from its Airflow connection, as `aks` requires it (scheme
    included: a bare host name is refused).

    A connection holds a URL in one of three ways, and each gives the same URL:
    - the whole URL in `host` (a JSON-defined or UI connection): `https://pgrest.example.org`;
    - defined by URI, `AIRFLOW_CONN_AKS_PGREST=https://:JWT@pgrest.example.org:8443/api`: Airflow
      splits it into conn_type `https`, host `pgrest.example.org`, port 8443 and schema `api` (the
      path), so the host alone would be a bare name;
    - an HTTP connection of the UI: the protocol in `schema` (HttpHook's convention), host, port.
    Login and password never enter the URL: aks refuses credentials in a URL.
    """
    host = conn.host or ""
    if "://" in host:
        return host
    scheme, path = conn.conn_type or "", conn.schema or ""
    if path in ("http", "https"):
        scheme, path = path, ""
    if scheme not in ("http", "https"):
        # Any other type (or none): the only scheme aks accepts off loopback.
        scheme = "https"
    port = ":%s" % conn.port if conn.port else ""
    path = "/" + path.strip("/") if path.strip("/") else ""
    return "%s://%s%s%s" % (scheme, host, port, path)


# Functions the templates may call (every DAG below gets them as user_defined_macros).
MACROS = {"endpoint_url": endpoint_url}

PGREST_ENV = {
    "PGREST_ENDPOINT": "{{ endpoint_url(conn.aks_pgrest) }}",
    "PGREST_JWT": "{{ conn.aks_pgrest.password }}",
}
SOCRATA_ENV = {
    "SOCRATA_APP_TOKEN": "{{ conn.aks_socrata.extra_dejson.app_token }}",
    "SOCRATA_API_KEY_ID": "{{ conn.aks_socrata.login }}",
    "SOCRATA_API_KEY_SECRET": "{{ conn.aks_socrata.password }}",
}
AGOL_ENV = {
    "AGOL_USERNAME": "{{ conn.aks_agol.login }}",
    "AGOL_PASSWORD": "{{ conn.aks_agol.password }}",
}

DEFAULT_ARGS = {
    "owner": "transportation-data",
    "depends_on_past": False,
    "retries": 1,
    "retry_delay": timedelta(minutes=5),
    "execution_timeout": timedelta(minutes=60),
}


def knack_env(connection):
    """Knack credentials of one app, from its connection."""
    return {
        "KNACK_APP_ID": "{{ conn.%s.login }}" % connection,
        "KNACK_API_KEY": "{{ conn.%s.password }}" % connection,
    }


def aks_task(task_id, args, environment):
    """One `aks` invocation, by the RUNNER above. Exit 0 is success; 1 (a stage failed, the
    others ran; or records a destination rejected), 2 (usage, config or environment error,
    nothing written) and 3 (status --verify found drift) all fail the task."""
    if RUNNER == "local":
        return BashOperator(
            task_id=task_id,
            bash_command="%s --log-format json %s" % (shlex.quote(AKS_BIN), args),
            env=environment,
            append_env=True,
            # BashOperator skips a task that exits 99; aks has no such code, so none skips.
            skip_on_exit_code=None,
        )
    return DockerOperator(
        task_id=task_id,
        image="{{ var.value.aks_image }}",
        command="--log-format json " + args,
        environment=environment,
        auto_remove="success",
        mount_tmp_dir=False,
        docker_url="unix://var/run/docker.sock",
        network_mode="bridge",
    )


def app_env(app):
    """Everything `aks sync` of one app may need (publishers' and Knack destination's credentials
    included)."""
    env = {**knack_env(APPS[app]), **PGREST_ENV, **SOCRATA_ENV, **AGOL_ENV}
    if app in KNACK_DESTINATIONS:
        dest = KNACK_DESTINATIONS[app]
        env["KNACK_APP_ID_DEST"] = "{{ conn.%s.login }}" % dest
        env["KNACK_API_KEY_DEST"] = "{{ conn.%s.password }}" % dest
    return env


def per_app_dag(dag_id, description, schedule, suffix, command):
    """A DAG with one task per app running `aks <command>` (`%s` is the app), and no edges between
    apps: apps are independent, one failing never holds another back."""
    with DAG(
        dag_id=dag_id,
        description=description,
        default_args=DEFAULT_ARGS,
        schedule=schedule,
        start_date=datetime(2024, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=["knack", "aks"],
        user_defined_macros=MACROS,
    ) as dag:
        for app in APPS:
            aks_task(
                "%s.%s" % (app, suffix),
                (command % app) + " -e {{ var.value.aks_env }}",
                app_env(app),
            )
    return dag


sync_dag = per_app_dag(
    "knack_services",
    "Knack records to PostgREST, Socrata and ArcGIS Online with aks sync",
    "*/30 * * * *",
    "sync",
    "sync -a %s",
)
verify_dag = per_app_dag(
    "knack_services_verify",
    "aks status --verify: destinations in step with the staging store",
    "@daily",
    "verify",
    "status --verify -a %s",
)

# Daily CSV snapshots of the public datasets (`aks backup-socrata`), one task per dataset: the
# example config's containers, one per dataset (view_3307 and view_3528 share qvth-gwdv). Each
# writes <4x4>/<YYYY-MM-DD>.csv under the Variable `aks_backup_to` (s3://bucket/prefix) with the
# AWS keys of the `aks_s3` connection and keeps the newest 30. The tasks are independent.
BACKUPS = [
    ("data-tracker", "view_197"),
    ("data-tracker", "view_2863"),
    ("signs-markings", "view_3307"),
]
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "{{ conn.aks_s3.login }}",
    "AWS_SECRET_ACCESS_KEY": "{{ conn.aks_s3.password }}",
    "AWS_REGION": "{{ conn.aks_s3.extra_dejson.region }}",
}

with DAG(
    dag_id="knack_services_extras",
    description="aks backup-socrata: daily CSV snapshots of the public datasets",
    default_args=DEFAULT_ARGS,
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["knack", "aks"],
    user_defined_macros=MACROS,
) as extras_dag:
    for app, container in BACKUPS:
        aks_task(
            "%s.%s.backup" % (app, container),
            "backup-socrata -a %s -c %s -e {{ var.value.aks_env }} --keep 30 "
            "--to {{ var.value.aks_backup_to }}" % (app, container),
            {**SOCRATA_ENV, **S3_ENV},
        )
