"""Models shipped with icestat: ``default.icestat``, trained by ``scripts/train_default_model.py``."""
