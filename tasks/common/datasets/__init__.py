"""Embedded data sets built from scikit-learn's 1,797 real handwritten digits: no download needed."""
