"""Sweeps on a dask cluster: GridSearchCV under joblib's dask backend."""

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from skprune import CompensatedPruner, MLPClassifier
from skprune._torch.threads import available_cores

distributed = pytest.importorskip(
    "dask.distributed", reason="dask[distributed] is part of the test extra"
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SCORE_KEYS = ("split0_test_score", "split1_test_score", "mean_test_score")


def _search():
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16.0, y[:300]
    pruner = CompensatedPruner(
        MLPClassifier((12,), max_iter=4, random_state=0),
        fine_tune_epochs=1,
        random_state=0,
    )
    grid = {"prune_ratio": [0.3, 0.8], "method": ["compensated", "magnitude"]}
    return GridSearchCV(pruner, grid, cv=2), X, y


@pytest.fixture(scope="module")
def cluster_client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_grid_search_on_a_local_cluster_equals_the_serial_search(cluster_client):
    serial, X, y = _search()
    serial.set_params(n_jobs=1).fit(X, y)

    on_cluster, _, _ = _search()
    with (
        distributed.get_task_stream(cluster_client) as tasks,
        parallel_config(backend="dask"),
    ):
        on_cluster.set_params(n_jobs=-1).fit(X, y)

    # The 8 candidate fits ran as tasks on the cluster's worker processes.
    workers = {task["worker"] for task in tasks.data}
    assert len(tasks.data) >= 1 and workers <= set(
        cluster_client.scheduler_info()["workers"]
    )
    for key in SCORE_KEYS:
        np.testing.assert_array_equal(
            serial.cv_results_[key], on_cluster.cv_results_[key]
        )
    assert serial.best_params_ == on_cluster.best_params_
    np.testing.assert_array_equal(
        serial.best_estimator_.predict_proba(X),
        on_cluster.best_estimator_.predict_proba(X),
    )


def test_fits_on_dask_workers_use_their_share_of_the_cores(cluster_client):
    from test_threads import grid_search

    search, X, y = grid_search(n_jobs=-1)
    with parallel_config(backend="dask"):
        search.fit(X, y)
    n_workers = len(cluster_client.scheduler_info()["workers"])
    allowed = search.cv_results_["mean_test_score"]
    assert allowed.max() <= max(1, available_cores() // n_workers), allowed
