"""Benchmarks: one command each, printing a markdown table and writing JSON to
bench/results/ so runs compare. See bench/README.md."""
