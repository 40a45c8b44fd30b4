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
    aks_pgrest    host  = PostgREST endpoint URL, password = PostgREST JWT    (PGREST_JWT)
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
("s3://bucket/prefix") are plain settings. crates/aks-cli/tests/airflow_dag.rs checks all of this
with Airflow's own DagBag.
"""

from datetime import datetime, timedelta

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG
from airflow.providers.docker.operators.docker import DockerOperator

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

PGREST_ENV = {
    "PGREST_ENDPOINT": "{{ conn.aks_pgrest.host }}",
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
    """One `aks` invocation in the image. Exit 2 (bad config or environment, nothing written),
    1 (a stage failed; the others ran) and 3 (status --verify found drift) all fail the task."""
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
) as extras_dag:
    for app, container in BACKUPS:
        aks_task(
            "%s.%s.backup" % (app, container),
            "backup-socrata -a %s -c %s -e {{ var.value.aks_env }} --keep 30 "
            "--to {{ var.value.aks_backup_to }}" % (app, container),
            {**SOCRATA_ENV, **S3_ENV},
        )
