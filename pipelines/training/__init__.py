"""Training: the point-in-time training set, the model, and its registration."""
