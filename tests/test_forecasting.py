"""labkit.forecasting and labkit.dl.sequences against independent oracles: NumPy's sliding_window_view, pandas
(the raw weather table, shifts and boolean masks), scikit-learn's StandardScaler and Keras's count_params."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import StandardScaler

from labkit import metrics
from labkit.datasets import dataset_path
from labkit.dl.sequences import RECURRENT, build_sequence_classifier, recurrent_params, rows_as_steps
from labkit.forecasting import (
    FEATURES,
    Standardizer,
    forecast_data,
    hourly_weather,
    linear_forecast,
    seasonal_naive,
    sliding_windows,
    walk_forward_split,
)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), steps=st.integers(5, 60), features=st.integers(1, 4), window=st.integers(1, 20),
       horizon=st.integers(1, 10), target=st.integers(0, 3))
def test_sliding_windows_match_numpys_view(seed, steps, features, window, horizon, target):
    values = np.random.default_rng(seed).normal(size=(steps, features))
    target = target % features
    if steps - window - horizon + 1 < 1:
        with pytest.raises(ValueError, match="no window"):
            sliding_windows(values, window=window, horizon=horizon)
        return
    x, y, index = sliding_windows(values, window=window, horizon=horizon, target=target)
    view = np.lib.stride_tricks.sliding_window_view(values, window, axis=0).transpose(0, 2, 1)
    n = steps - window - horizon + 1
    np.testing.assert_array_equal(x, view[:n])
    np.testing.assert_array_equal(y, values[window + horizon - 1:, target])
    np.testing.assert_array_equal(index, np.arange(window + horizon - 1, steps))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 300), a=st.integers(0, 400), b=st.integers(0, 400))
def test_walk_forward_split_orders_targets_and_covers_every_window(seed, n, a, b):
    times = pd.date_range("2013-01-01", periods=n, freq="h", tz="UTC")
    cut1, cut2 = sorted([times[0] + pd.Timedelta(hours=a - 20), times[0] + pd.Timedelta(hours=b - 20)])
    tr, va, te = walk_forward_split(times, cut1, cut2)
    frame = pd.Series(np.arange(n), index=times)
    np.testing.assert_array_equal(tr, frame[frame.index < cut1].to_numpy())
    np.testing.assert_array_equal(va, frame[(frame.index >= cut1) & (frame.index < cut2)].to_numpy())
    np.testing.assert_array_equal(te, frame[frame.index >= cut2].to_numpy())
    if n > 1:
        with pytest.raises(ValueError, match="time order"):
            walk_forward_split(times[::-1], cut1, cut2)


def test_walk_forward_split_localises_naive_dates_and_rejects_swapped_ones():
    times = pd.date_range("2013-08-31 22:00", periods=4, freq="h", tz="UTC")
    assert [s.tolist() for s in walk_forward_split(times, "2013-09-01", "2013-09-01 01:00")] == [[0, 1], [2], [3]]
    with pytest.raises(ValueError, match="must not come after"):
        walk_forward_split(times, "2013-10-01", "2013-09-01")


def test_hourly_weather_is_the_raw_table_on_a_complete_hourly_grid():
    raw = pd.read_parquet(dataset_path("flights_weather.parquet"))
    raw = raw[raw["origin"] == "LGA"].groupby("time_hour")[list(FEATURES)].mean()
    frame = hourly_weather("LGA")
    assert (frame.index.to_series().diff().dropna() == pd.Timedelta(hours=1)).all()
    assert frame.index[0] == raw.index.min() and frame.index[-1] == raw.index.max()
    assert not frame[list(FEATURES)].isna().any().any()
    observed = raw.dropna()
    pd.testing.assert_frame_equal(frame.loc[observed.index, list(FEATURES)], observed, check_freq=False,
                                  check_names=False, check_index_type=False)
    assert frame["imputed"].sum() == len(frame) - len(observed)
    np.testing.assert_allclose(frame["hour_sin"] ** 2 + frame["hour_cos"] ** 2, 1)
    noon = frame.index.tz_convert("America/New_York").hour == 12
    np.testing.assert_allclose(frame.loc[noon, "hour_cos"], -1)
    with pytest.raises(ValueError, match="JFK"):
        hourly_weather("BOS")


def test_same_as_yesterday_is_the_series_shifted_by_24_hours():
    frame = hourly_weather()
    temp = frame["temp"]
    for window, horizon in [(24, 1), (48, 6), (30, 24)]:
        x, y, index = sliding_windows(frame[list(FEATURES)].to_numpy(), window=window, horizon=horizon)
        np.testing.assert_array_equal(seasonal_naive(x, horizon=horizon), temp.shift(24).to_numpy()[index])
    with pytest.raises(ValueError, match="at least 24"):
        seasonal_naive(np.zeros((1, 20, 1)), horizon=1)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_standardizer_matches_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(rng.normal(size=3), rng.uniform(0.1, 5, 3), size=(11, 7, 3))
    other = rng.normal(size=(4, 7, 3))
    scaler = StandardScaler().fit(x.reshape(-1, 3))
    ours = Standardizer().fit(x)
    np.testing.assert_allclose(ours.transform(other).reshape(-1, 3), scaler.transform(other.reshape(-1, 3)),
                               rtol=1e-10)
    with pytest.raises(RuntimeError, match="fit"):
        Standardizer().transform(x)


def test_the_labs_linear_baseline_beats_same_as_yesterday_on_the_held_out_months():
    """Lab 09 says so: 6 hours ahead at JFK, November and December 2013."""
    data = forecast_data()
    test = data.test
    assert data.times[test].min() >= pd.Timestamp("2013-11-01", tz="UTC")
    assert data.times[data.train].max() < pd.Timestamp("2013-09-01", tz="UTC")
    naive = metrics.mean_absolute_error(data.y[test], seasonal_naive(data.x[test], horizon=6))
    linear = metrics.mean_absolute_error(data.y[test], linear_forecast(data)[test])
    assert linear < 0.5 * naive


@pytest.mark.parametrize("kind", sorted(RECURRENT))
@pytest.mark.parametrize("units", [1, 16, 64])
def test_recurrent_parameter_formula_matches_keras(kind, units):
    model = build_sequence_classifier(kind, units=units)
    assert model.layers[0].count_params() == recurrent_params(kind, 28, units)
    with pytest.raises(ValueError, match="lstm"):
        recurrent_params("transformer", 28, 64)


def test_rows_as_steps_scales_images_to_sequences():
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28)).astype(np.uint8)
    seq = rows_as_steps(images)
    assert seq.dtype == np.float32 and seq.shape == (3, 28, 28)
    np.testing.assert_allclose(seq[1, 5], images[1, 5] / 255, rtol=1e-6)
    with pytest.raises(ValueError, match="height, width"):
        rows_as_steps(images.reshape(3, -1))


def test_nothing_from_the_held_out_months_reaches_either_model():
    """Poison every window whose target is in November–December, at all three airports. The linear model's
    forecasts for the other windows do not move by a bit; the LSTM's stay finite where NaN inputs and targets
    would have turned every weight, and so every forecast, into NaN had any reached a fit, the scaler or early
    stopping."""
    from labkit.forecasting import fit_lstm_forecaster

    data = forecast_data(window=24, horizon=6)
    seen = np.r_[data.train, data.validation]
    clean = linear_forecast(data)
    for x, y, (_, _, test) in data.pools.values():
        x[test], y[test] = 1e6, -1e6
    np.testing.assert_array_equal(linear_forecast(data)[seen], clean[seen])
    for x, y, (_, _, test) in data.pools.values():
        x[test], y[test] = np.nan, np.nan
    lstm = fit_lstm_forecaster(data, units=4, max_epochs=1, verbose=False)
    assert np.isfinite(lstm["predict"][seen]).all() and np.isnan(lstm["predict"][data.test]).all()
    assert lstm["epochs"] == 1 and lstm["model"].count_params() == recurrent_params("lstm", 9, 4) + 5
