"""Model training: data, validation, features, LightGBM, calibration, metrics and the job that runs it."""
