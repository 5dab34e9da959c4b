"""Datasets: registry, staging with checksums, loading with validation, statistics, synthetic corpus."""
