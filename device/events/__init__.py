"""Events that leave the Pi: new/update/end from tracks and zones, MQTT with an on-disk spool, Home Assistant discovery."""
