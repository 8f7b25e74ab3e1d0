"""The trainer: datasets, models, methods, metrics and the loop that records every epoch."""
