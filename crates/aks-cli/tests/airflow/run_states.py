"""Reads back, from the Airflow metadata database (sqlite, path argv[1]), how the newest run of the
DAG argv[2] went, as one JSON document on stdout, for crates/aks-cli/tests/airflow_dag.rs:

    {"run_id": ..., "state": ..., "tasks": {task_id: {"state", "try_number", "rendered"}}}

`rendered` is what Airflow stored of the task's rendered templates: what its "Rendered Template"
view shows. Plain sqlite3, no Airflow import, so it costs nothing next to an `airflow` command.
"""

import json
import sqlite3
import sys


def main(db, dag_id):
    con = sqlite3.connect(db)
    row = con.execute(
        "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
    ).fetchone()
    if row is None:
        json.dump({"run_id": None, "state": None, "tasks": {}}, sys.stdout)
        return
    run_id, state = row
    tasks = {}
    for task_id, ti_state, try_number in con.execute(
        "SELECT task_id, state, try_number FROM task_instance WHERE dag_id = ? AND run_id = ?",
        (dag_id, run_id),
    ):
        tasks[task_id] = {"state": ti_state, "try_number": try_number, "rendered": None}
    for task_id, fields in con.execute(
        "SELECT task_id, rendered_fields FROM rendered_task_instance_fields "
        "WHERE dag_id = ? AND run_id = ?",
        (dag_id, run_id),
    ):
        if task_id in tasks:
            tasks[task_id]["rendered"] = json.loads(fields)
    json.dump({"run_id": run_id, "state": state, "tasks": tasks}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
