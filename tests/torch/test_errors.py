"""Failures surface as Python exceptions carrying railcc's message, never as a hang: each job
below runs with a deadline, and ranks still running past it fail the test."""

import failures
from harness import run_job


def _errors(results):
    for ok, value in results:
        assert ok, f"a rank failed outside the op under test: {value}"
    return [value for _, value in results]


def test_mismatched_shapes_raise_on_every_rank():
    for err in _errors(run_job(failures.mismatched_shapes, 2)):
        assert err is not None and err.startswith("DistBackendError"), err
        assert "mismatch" in err and "all_reduce" in err, err


def test_mismatch_fails_the_future_and_its_chain():
    for fut_err, chained_err in _errors(run_job(failures.mismatched_shapes_async, 3)):
        assert fut_err is not None and "mismatch" in fut_err, fut_err
        assert chained_err is not None and "mismatch" in chained_err, chained_err


def test_dead_rank_is_reported_not_waited_for():
    results = run_job(failures.dead_rank, 3, timeout_s=60, deadline_s=90)
    assert results[2] == (False, "exited with code 7")
    for ok, err in results[:2]:
        assert ok, err
        assert err is not None and err.startswith("DistBackendError"), err
        assert "rank 2" in err, err


def test_init_process_group_timeout_is_honoured():
    # The process group's timeout (2 s) is railcc's deadline, not RAILCC_TIMEOUT (300 s): the
    # waiting ranks give up while the late one still sleeps, naming it.
    results = _errors(run_job(failures.late_rank, 3, 8, timeout_s=2, deadline_s=60))
    assert results[2] is None
    for err in results[:2]:
        assert err is not None and err.startswith("DistBackendError"), err
        assert "timed out after 2 s" in err and "rank(s) 2" in err, err


def test_send_recv_tag_mismatch():
    # The send may complete (railcc sends eagerly); the receive must fail, naming both tags.
    _, recv_err = _errors(run_job(failures.tag_mismatch, 2))
    assert recv_err is not None and "sent tag 1 but this rank receives tag 2" in recv_err, recv_err


def test_invalid_call_is_rejected_locally():
    for err in _errors(run_job(failures.bad_splits_then_ok, 2)):
        assert err is not None and err.startswith("ValueError"), err
        assert "split sizes add up to" in err, err
