"""Question sets in, scores out: evaluation, the baseline gate, the answer model's training, JSQuAD."""
