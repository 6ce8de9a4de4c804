"""Text every stage reads the same way: Japanese normalisation, tokens, numbers and eras, the glossary."""
