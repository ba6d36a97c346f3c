"""The built-in real-data demo: a small CNN trained on scikit-learn's handwritten digits."""
