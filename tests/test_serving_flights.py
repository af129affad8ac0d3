"""What lab 10 says about its delay model, pinned on the full data with the lab's own procedure (a grid search on
January–April, the best settings retrained): the temperature drifts from May to October and is back in
November and December, and the live ROC AUC stays below the training-time score in every later month, by more
than 0.05 from June on."""

import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from labkit import hpo
from labkit.serving import drift
from labkit.serving.flights import FEATURES, LABEL, delay_model, delay_table, monthly

pytestmark = pytest.mark.slow
SEED, TRAIN_MONTHS = 0, [1, 2, 3, 4]  # the lab's defaults


@pytest.fixture(scope="module")
def year():
    flights = delay_table()
    spring = flights[flights["month"].isin(TRAIN_MONTHS)]
    train, held_out = train_test_split(spring, test_size=0.2, random_state=SEED, stratify=spring[LABEL])
    return train, held_out, monthly(flights[~flights["month"].isin(TRAIN_MONTHS)])


def test_the_temperature_drifts_from_may_to_october_only(year):
    train, _, later = year
    temp = {m: drift.psi(train["temp"].dropna(), part["temp"].dropna()) for m, part in later.items()}
    assert all(temp[m] > drift.PSI_LARGE for m in range(5, 11)), temp
    assert all(temp[m] < drift.PSI_LARGE for m in (11, 12)), temp


def test_the_served_model_scores_below_its_training_time_auc_every_month(year):
    train, held_out, later = year
    fit_part, validation = train_test_split(train, test_size=0.2, random_state=SEED, stratify=train[LABEL])
    space = {"learning_rate": hpo.choice([0.05, 0.2]), "max_leaf_nodes": hpo.choice([15, 63])}

    def validation_auc(config: dict) -> float:
        trial = delay_model(seed=SEED, **config).fit(fit_part[FEATURES], fit_part[LABEL])
        return roc_auc_score(validation[LABEL], trial.predict_proba(validation[FEATURES])[:, 1])

    best = max(hpo.grid_configs(space), key=validation_auc)
    model = delay_model(seed=SEED, **best).fit(train[FEATURES], train[LABEL])
    baseline = roc_auc_score(held_out[LABEL], model.predict_proba(held_out[FEATURES])[:, 1])
    live = {m: roc_auc_score(part[LABEL], model.predict_proba(part[FEATURES])[:, 1]) for m, part in later.items()}
    assert all(live[m] < baseline for m in live), (baseline, live)
    assert all(live[m] < baseline - 0.05 for m in range(6, 13)), (baseline, live)
