import json
import logging

from bmc.logging import ContextFilter, JsonFormatter, log_context


def format_record(message: str, *args) -> dict:
    record = logging.LogRecord("bmc.test", logging.INFO, __file__, 1, message, args, None)
    ContextFilter().filter(record)
    return json.loads(JsonFormatter("%(levelname)s %(name)s %(message)s", timestamp=True).format(record))


def test_log_lines_are_json_with_the_work_context():
    with log_context(trace_id="t1", task_id="k1", agent="quote", tenant="bmc"):
        line = format_record("priced %s", "quote 7")
    assert line["message"] == "priced quote 7" and line["levelname"] == "INFO" and "timestamp" in line
    assert {k: line[k] for k in ("trace_id", "task_id", "agent", "tenant")} == {
        "trace_id": "t1",
        "task_id": "k1",
        "agent": "quote",
        "tenant": "bmc",
    }
    assert format_record("outside")["trace_id"] is None


def test_secrets_and_phone_numbers_never_reach_the_log():
    line = format_record(
        "customer +59899123456 used Authorization: Bearer AbCdEfGh.s3cr3tS3cr3tS3cr3tS3cr3t with key AbCdEfGh.s3cr3tS3cr3tS3cr3tS3cr3t and password=hunter2"
    )["message"]
    assert "59899123456" not in line and "+5989***3456" in line
    assert "s3cr3t" not in line and "hunter2" not in line
    assert "AbCdEfGh.[redacted]" in line  # the prefix still tells which key it was
