"""The checkout benchmark (压测): ``python -m bench`` measures the POS API against a floor."""
