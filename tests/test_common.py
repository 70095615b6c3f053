"""scikit-learn's common estimator checks.

Expected failures are declared once, on each estimator class as
``_xfail_checks = {check_name: reason}``, and passed on here.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skprune import CompensatedPruner, MLPClassifier, MLPRegressor

# scikit-learn's own settings for its MLPs in these checks (max_iter=100);
# the checks decide the data.
ESTIMATORS = [
    MLPClassifier(max_iter=100, random_state=0),
    MLPRegressor(max_iter=100, random_state=0),
    CompensatedPruner(MLPClassifier(max_iter=100, random_state=0)),
    CompensatedPruner(MLPRegressor(max_iter=100, random_state=0)),
]


def _expected_failed_checks(estimator):
    return getattr(estimator, "_xfail_checks", {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
