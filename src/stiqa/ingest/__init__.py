"""Files in, cited chunks out: reading corpus files, splitting them, adding uploads."""
