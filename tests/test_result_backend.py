"""Celery's database result backend (SQLAlchemy), for results that must outlive Redis."""

from celery import Celery
from django.db import connection

from tests.conftest import ROOT


def _sqlalchemy_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = settings.get("USER") or ""
        if settings.get("PASSWORD"):
            auth += f":{settings['PASSWORD']}"
        port = f":{settings['PORT']}" if settings.get("PORT") else ""
        return f"db+postgresql+psycopg://{auth}@{settings.get('HOST') or 'localhost'}{port}/{settings['NAME']}"
    return f"db+sqlite:///{ROOT / 'var' / 'test-results.sqlite3'}"


def test_results_stored_in_the_database_backend_read_back(db):
    app = Celery("results-check", broker="memory://", backend=_sqlalchemy_url(), set_as_current=False)
    app.conf.result_serializer = "json"
    backend = app.backend
    assert type(backend).__name__ == "DatabaseBackend"
    backend.store_result("result-check-1", {"total": "1816.95"}, "SUCCESS")
    meta = backend.get_task_meta("result-check-1")
    assert meta["status"] == "SUCCESS" and meta["result"] == {"total": "1816.95"}
    backend.forget("result-check-1")
