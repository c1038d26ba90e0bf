def pytest_configure(config):
    config.addinivalue_line(
        "markers", "scaleout: starts real Airflow components on PostgreSQL and Redis (part of CI)")
