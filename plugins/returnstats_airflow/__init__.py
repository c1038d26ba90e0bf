"""The Airflow side of returnstats: what the DAG needs from Airflow (connections,
variables, the SMTP connection, callbacks), kept apart from the domain package
`returnstats`, which never imports Airflow."""
