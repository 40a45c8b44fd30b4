"""Airflow DAG example: Knack -> PostgREST -> Socrata / ArcGIS Online with the `aks` image.

Per app: one `metadata-to-postgrest` task, then per container `records-to-postgrest` followed by
its publishers (`records-to-socrata`, `records-to-agol`).

Incremental runs pass `--date` = the start of the last *successful* run's data interval, so a
failed run is covered again by the next one. With no earlier success (first run, or after clearing
history) `--date` is omitted: a full load, which also replaces the destination (AGOL: delete 1=1 and
re-add; Socrata: replace, refused by aks for containers with no_replace_socrata).

Secrets are never written here. They come from Airflow connections, rendered at run time through
templates (Airflow masks connection passwords in logs and rendered-template views):

    knack_<app>   login = Knack app id,          password = Knack API key
    aks_pgrest    host  = PostgREST endpoint URL, password = PostgREST JWT
    aks_socrata   login = API key id, password = API key secret, extra {"app_token": "..."}
    aks_agol      login = AGOL username,         password = AGOL password

Airflow Variables: `aks_image` (e.g. "atddocker/aks:production"), `aks_env` ("prod" or "dev").
"""

from datetime import datetime, timedelta

from airflow import DAG
from airflow.providers.docker.operators.docker import DockerOperator

# What to run. Mirrors the containers of the config baked into the image (knack.toml).
APPS = {
    "data-tracker": {
        "connection": "knack_data_tracker",
        "containers": {
            "view_197": ["socrata", "agol"],
            "view_2863": ["socrata"],
            "object_11": [],
        },
    },
    "signs-markings": {
        "connection": "knack_signs_markings",
        "containers": {
            "view_3096": ["agol"],
            "view_3307": ["socrata"],
            "view_3528": ["socrata"],
        },
    },
}

# Rendered by Airflow at run time; empty on the first run, which makes it a full load.
DATE_ARG = (
    "{% if prev_data_interval_start_success %}"
    "--date {{ prev_data_interval_start_success.isoformat() }}"
    "{% endif %}"
)

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
    """One `aks` invocation in the image; exit 2 (bad config/env) fails the task like any error."""
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


with DAG(
    dag_id="knack_services",
    description="Knack records to PostgREST, Socrata and ArcGIS Online with aks",
    default_args=DEFAULT_ARGS,
    schedule="*/30 * * * *",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["knack", "aks"],
) as dag:
    for app, spec in APPS.items():
        env_flag = "-e {{ var.value.aks_env }}"
        knack = knack_env(spec["connection"])
        metadata = aks_task(
            "%s.metadata" % app,
            "metadata-to-postgrest -a %s %s" % (app, env_flag),
            {**knack, **PGREST_ENV},
        )
        for container, publishers in spec["containers"].items():
            selector = "-a %s -c %s %s %s" % (app, container, env_flag, DATE_ARG)
            to_postgrest = aks_task(
                "%s.%s.records_to_postgrest" % (app, container),
                "records-to-postgrest " + selector,
                {**knack, **PGREST_ENV},
            )
            metadata >> to_postgrest
            # Publishers read from PostgREST; KNACK_APP_ID selects the app's rows there.
            app_id = {"KNACK_APP_ID": knack["KNACK_APP_ID"]}
            if "socrata" in publishers:
                to_postgrest >> aks_task(
                    "%s.%s.records_to_socrata" % (app, container),
                    "records-to-socrata " + selector,
                    {**app_id, **PGREST_ENV, **SOCRATA_ENV},
                )
            if "agol" in publishers:
                to_postgrest >> aks_task(
                    "%s.%s.records_to_agol" % (app, container),
                    "records-to-agol " + selector,
                    {**app_id, **PGREST_ENV, **AGOL_ENV},
                )
