"""Sizing of ingest write tasks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hts.io.ingest_steps import files_per_task


def test_few_files_on_many_threads_keep_small_tasks() -> None:
    assert files_per_task(100, 64) == 8


def test_a_large_folder_on_one_node_gets_the_largest_tasks() -> None:
    assert files_per_task(10_000, 2) == 32


@given(st.integers(0, 10**7), st.integers(0, 4096))
def test_tasks_are_8_to_32_files_and_four_per_thread_where_files_allow(
    n_files: int, n_threads: int
) -> None:
    size = files_per_task(n_files, n_threads)
    assert 8 <= size <= 32
    if size > 8:  # larger than the least only while every thread still gets four tasks
        assert -(-n_files // size) >= 4 * max(1, n_threads)
