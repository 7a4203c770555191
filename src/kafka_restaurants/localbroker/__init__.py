"""The Apache Kafka broker `restaurants up` and the tests run on this machine.

`jars` fetches and caches the broker's jars (Maven Central), `security` makes its TLS
certificates, SCRAM credentials and JAAS config for `--secure`, and `broker` starts, checks and
stops one combined broker/controller (KRaft). Kafka clients live in `messaging`; nothing there
needs this package.
"""
