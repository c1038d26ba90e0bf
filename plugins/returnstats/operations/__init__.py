"""Operating the daily run: the reporting cutoff and the on-call alerts (SPEC §8).

Plain Python like every room: the DAG passes in the clock-free inputs (as-of date, run
facts) and the SMTP sender it builds from Airflow's `smtp_default` connection.
"""
