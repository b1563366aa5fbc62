"""Fidelity, utility and privacy metrics. Every k-NN question goes through `neighbours.knn`."""
