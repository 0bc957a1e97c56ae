"""LocalStack plugins of the lsk kit (process runtime executor, loopback-only gateway server)."""
