## bench: benchmarks printing ratios against baselines measured in the same run
