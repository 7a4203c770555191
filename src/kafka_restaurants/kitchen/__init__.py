"""The kitchen: each restaurant's queue of confirmed orders, and the steps it takes them through.

Follows `order_confirm` in its own consumer group (`kitchen-display`), independently of the
mailer, and `order_status`; serves the tickets to the website over HTTP and produces the
restaurant's presses ("Accept", "Ready", "Out for delivery") to `order_status`.
"""
