"""HTTP routes of the api process."""
