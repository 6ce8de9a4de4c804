"""What the documents state as records: programs with their aliases, figures with their subjects, the finder."""
