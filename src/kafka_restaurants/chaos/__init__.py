"""The chaos suite: the order pipeline under a schedule of crashes, pauses and outages, audited."""
