"""Loads the DAG file given as argv[1] with Airflow's own DagBag and writes what the Rust test
(crates/aks-cli/tests/airflow_dag.rs) asserts on, as one JSON document, to the file argv[2]
(Airflow logs to stdout, so stdout is not for data).

The environment (set by the test) points AIRFLOW_HOME at a temporary directory with a sqlite
database and load_examples off, and defines the DAG's connections and Variables with fake secrets
(AIRFLOW_CONN_* / AIRFLOW_VAR_*), so templates render exactly as in a task run.
"""

import inspect
import json
import sys

try:  # Airflow 3
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow 2
    from airflow.models.dagbag import DagBag

try:  # Airflow 3: what the task runner and the "Rendered Template" view use
    from airflow.sdk._shared.secrets_masker import redact
except ImportError:
    try:
        from airflow.sdk.execution_time.secrets_masker import redact
    except ImportError:  # Airflow 2
        from airflow.utils.log.secrets_masker import redact


def template_context():
    """The `conn` and `var` accessors a task's templates see at run time."""
    try:
        from airflow.sdk.execution_time.context import ConnectionAccessor, VariableAccessor

        var = {
            "value": VariableAccessor(deserialize_json=False),
            "json": VariableAccessor(deserialize_json=True),
        }
        return {"conn": ConnectionAccessor(), "var": var}
    except ImportError:  # Airflow 2
        from airflow.utils.context import ConnectionAccessor, VariableAccessor

        return {
            "conn": ConnectionAccessor(),
            "var": {"value": VariableAccessor(deserialize_json=False)},
        }


def endpoint_urls(dag):
    """What the DAG's `endpoint_url` macro makes of each way a connection can hold a URL."""
    try:  # Airflow 3: the connection a task's templates see
        from airflow.sdk import Connection
    except ImportError:  # Airflow 2
        from airflow.models.connection import Connection

    endpoint_url = dag.user_defined_macros["endpoint_url"]
    forms = {
        "uri-https": Connection.from_uri("https://:jwt@pgrest.example.org", conn_id="a"),
        "uri-https-port-path": Connection.from_uri(
            "https://:jwt@pgrest.example.org:8443/api/v1", conn_id="a"
        ),
        "uri-http-loopback": Connection.from_uri("http://:jwt@127.0.0.1:3000", conn_id="a"),
        "host-full-url": Connection(
            conn_id="a", conn_type="http", host="https://pgrest.example.org/api", password="jwt"
        ),
        "http-ui-schema-https": Connection(
            conn_id="a", conn_type="http", host="pgrest.example.org", schema="https", port=8443
        ),
        "generic-bare-host": Connection(conn_id="a", conn_type="generic", host="pgrest.example.org"),
    }
    return {name: endpoint_url(conn) for name, conn in forms.items()}


def main(path, report):
    kwargs = {}
    if "include_examples" in inspect.signature(DagBag.__init__).parameters:
        kwargs["include_examples"] = False
    bag = DagBag(dag_folder=path, **kwargs)
    out = {"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "dags": {}}
    for dag_id, dag in bag.dags.items():
        tasks = {}
        for task in dag.tasks:
            task.render_template_fields(template_context())
            rendered = {f: getattr(task, f) for f in task.template_fields}
            tasks[task.task_id] = {
                "operator": type(task).__name__,
                "retries": task.retries,
                "upstream": sorted(task.upstream_task_ids),
                "downstream": sorted(task.downstream_task_ids),
                # What the container receives (secrets included) ...
                "rendered": json.loads(json.dumps(rendered, default=str)),
                # ... and what Airflow shows of it (logs, the Rendered Template view).
                "shown": json.loads(json.dumps(redact(rendered), default=str)),
            }
        out["dags"][dag_id] = {"schedule": str(getattr(dag, "schedule", None)), "tasks": tasks}
    out["endpoint_urls"] = endpoint_urls(bag.dags["knack_services"])
    with open(report, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
