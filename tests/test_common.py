"""scikit-learn's common estimator checks.

Expected failures are declared once, on each estimator class as
``_xfail_checks = {check_name: reason}``, and passed on here.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skprune import MLPClassifier, MLPRegressor

# Small, quick settings; the checks themselves decide the data.
ESTIMATORS = [
    MLPClassifier((8,), max_iter=200, random_state=0),
    MLPRegressor((8,), max_iter=200, random_state=0),
]


def _expected_failed_checks(estimator):
    return getattr(estimator, "_xfail_checks", {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
